//! Trust for https: the extra root certificates (parsed from PEM) and the TLS configuration
//! handed to reqwest, for whichever TLS feature the crate is built with.

#[cfg(feature = "rustls")]
use crate::error::error_chain;
use crate::error::{invalid, ConfigError};
#[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
use rustls::pki_types::pem::PemObject;

/// One extra root certificate, in the form the TLS backend takes.
#[cfg(feature = "rustls")]
type RootCertificate = reqwest::Certificate;
#[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
type RootCertificate = rustls::pki_types::CertificateDer<'static>;
#[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
type RootCertificate = std::convert::Infallible;

/// Parses the extra root certificates (each entry a PEM bundle of one or more certificates).
pub(crate) fn parse_root_certificates(
    pems: &[Vec<u8>],
) -> Result<Vec<RootCertificate>, ConfigError> {
    #[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
    if !pems.is_empty() {
        let reason = "the crate was built without a TLS feature; enable `rustls-ring` or `rustls`";
        return Err(invalid("root_certificates", reason));
    }
    #[cfg(feature = "rustls")]
    let parse = |pem| reqwest::Certificate::from_pem_bundle(pem).map_err(|e| error_chain(&e));
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
    let parse = |pem| Result::<Vec<_>, _>::from_iter(RootCertificate::pem_slice_iter(pem));
    #[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
    let parse = |_| Ok::<Vec<RootCertificate>, String>(Vec::new());
    let mut all = Vec::new();
    for (n, pem) in (1..).zip(pems) {
        let reason = match parse(pem) {
            Ok(certs) if !certs.is_empty() => {
                all.extend(certs);
                continue;
            }
            Ok(_) => format!(
                "no certificate (-----BEGIN CERTIFICATE-----) found in root certificate #{n}"
            ),
            Err(e) => format!("root certificate #{n} is not PEM data: {e}"),
        };
        return Err(invalid("root_certificates", reason));
    }
    Ok(all)
}

/// Trust for https: the platform's verifier and roots, plus the extra roots. For an http
/// server no TLS connection is ever made (redirects stay on the same origin), so the client
/// trusts only the extra roots and needs no system CA certificates: a minimal container without
/// them can still report over http.
pub(crate) fn add_roots(
    builder: reqwest::ClientBuilder,
    pems: &[Vec<u8>],
    https: bool,
) -> Result<reqwest::ClientBuilder, ConfigError> {
    let roots = parse_root_certificates(pems)?;
    #[cfg(feature = "rustls")]
    let builder = match https {
        true => builder.tls_certs_merge(roots),
        false => builder.tls_certs_only(roots),
    };
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
    let builder = builder.tls_backend_preconfigured(ring_config(roots, https)?);
    #[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
    let _ = (roots, https);
    Ok(builder)
}

/// With `rustls-ring` (and not `rustls`) reqwest has no crypto provider of its own, so the
/// client gets a complete rustls configuration: the provider the application installed as the
/// process default if it did (as reqwest itself does), else ring, which is never installed
/// process-wide; for https the platform's verifier with the extra roots, for http (or without
/// system CA certificates) the extra roots alone; HTTP/1.1 by ALPN.
#[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
fn ring_config(
    roots: Vec<RootCertificate>,
    https: bool,
) -> Result<rustls::ClientConfig, ConfigError> {
    use std::sync::Arc;

    // PEM armour can hold bytes that are no certificate: check each one as a trust anchor.
    let mut store = rustls::RootCertStore::empty();
    for (n, root) in (1..).zip(&roots) {
        let reason = |e| format!("certificate #{n} cannot be a trust anchor: {e}");
        store
            .add(root.clone())
            .map_err(|e| invalid("root_certificates", reason(e)))?;
    }
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let versions = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Http(format!("TLS setup failed: {e}")))?;
    let verifier =
        https.then(|| rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider));
    let mut tls = match verifier {
        Some(Ok(verifier)) => versions
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth(),
        Some(Err(e)) if store.is_empty() => {
            return Err(ConfigError::Http(format!(
                "TLS setup failed: {e}. https needs the system's CA certificates (e.g. the ca-certificates package) or the server's CA added with add_root_certificate()"
            )))
        }
        _ => versions.with_root_certificates(store).with_no_client_auth(),
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}
