//! Trust for https: the extra root certificates (parsed from PEM) and the TLS configuration
//! handed to reqwest, in one variant per TLS feature.

#[cfg(feature = "rustls")]
use crate::error::error_chain;
use crate::error::ConfigError;

/// One extra root certificate, in the form the TLS backend takes.
#[cfg(feature = "rustls")]
type RootCertificate = reqwest::Certificate;
/// One extra root certificate, in the form the TLS backend takes.
#[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
type RootCertificate = rustls::pki_types::CertificateDer<'static>;

#[cfg(feature = "rustls")]
fn parse_pem_bundle(pem: &[u8]) -> Result<Vec<RootCertificate>, String> {
    reqwest::Certificate::from_pem_bundle(pem).map_err(|e| error_chain(&e))
}

#[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
fn parse_pem_bundle(pem: &[u8]) -> Result<Vec<RootCertificate>, String> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// Parses the extra root certificates (each entry a PEM bundle of one or more certificates).
#[cfg(any(feature = "rustls", feature = "rustls-ring"))]
pub(crate) fn parse_root_certificates(
    pems: &[Vec<u8>],
) -> Result<Vec<RootCertificate>, ConfigError> {
    let mut all = Vec::new();
    for (i, pem) in pems.iter().enumerate() {
        let n = i + 1;
        let certs = parse_pem_bundle(pem).map_err(|e| ConfigError::InvalidValue {
            field: "root_certificates",
            reason: format!("root certificate #{n} is not PEM data: {e}"),
        })?;
        if certs.is_empty() {
            return Err(ConfigError::InvalidValue {
                field: "root_certificates",
                reason: format!(
                    "no certificate (-----BEGIN CERTIFICATE-----) found in root certificate #{n}"
                ),
            });
        }
        all.extend(certs);
    }
    Ok(all)
}

/// Without a TLS feature, extra root certificates cannot be used.
#[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
pub(crate) fn parse_root_certificates(pems: &[Vec<u8>]) -> Result<(), ConfigError> {
    if pems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::InvalidValue {
            field: "root_certificates",
            reason: "the crate was built without a TLS feature; enable `rustls-ring` or `rustls`"
                .into(),
        })
    }
}

/// Trust for https: the platform's verifier and roots, plus the extra roots. For an http
/// server no TLS connection is ever made (redirects stay on the same origin), so the client
/// trusts only the extra roots and does not need the system's CA certificates at all: a
/// minimal container without them can still report over http.
#[cfg(feature = "rustls")]
pub(crate) fn add_roots(
    builder: reqwest::ClientBuilder,
    pems: &[Vec<u8>],
    https: bool,
) -> Result<reqwest::ClientBuilder, ConfigError> {
    let certs = parse_root_certificates(pems)?;
    Ok(if https {
        builder.tls_certs_merge(certs)
    } else {
        builder.tls_certs_only(certs)
    })
}

/// With `rustls-ring` (and not `rustls`) reqwest has no crypto provider of its own, so the
/// client gets a complete rustls configuration: the provider the application installed as the
/// process default if it did (as reqwest itself does), else ring, which is never installed
/// process-wide; for https the platform's verifier with the extra roots, for http only the
/// extra roots (no system CA certificates needed); HTTP/1.1 by ALPN.
#[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
pub(crate) fn add_roots(
    builder: reqwest::ClientBuilder,
    pems: &[Vec<u8>],
    https: bool,
) -> Result<reqwest::ClientBuilder, ConfigError> {
    use std::sync::Arc;

    let roots = parse_root_certificates(pems)?;
    // PEM armour can hold bytes that are no certificate: check each one as a trust anchor.
    let mut store = rustls::RootCertStore::empty();
    for (i, root) in roots.iter().enumerate() {
        store
            .add(root.clone())
            .map_err(|e| ConfigError::InvalidValue {
                field: "root_certificates",
                reason: format!("certificate #{} cannot be a trust anchor: {e}", i + 1),
            })?;
    }
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let tls_error = |e: rustls::Error| ConfigError::Http(format!("TLS setup failed: {e}"));
    let versions = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?;
    let mut tls = if https {
        match rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider) {
            Ok(verifier) => versions
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth(),
            // No system CA certificates (a minimal container): the extra roots alone, if any.
            Err(_) if !store.is_empty() => {
                versions.with_root_certificates(store).with_no_client_auth()
            }
            Err(e) => {
                return Err(ConfigError::Http(format!(
                    "TLS setup failed: {e}. https needs the system's CA certificates (e.g. the ca-certificates package) or the server's CA added with add_root_certificate()"
                )))
            }
        }
    } else {
        versions.with_root_certificates(store).with_no_client_auth()
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(builder.tls_backend_preconfigured(tls))
}

#[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
pub(crate) fn add_roots(
    builder: reqwest::ClientBuilder,
    pems: &[Vec<u8>],
    _https: bool,
) -> Result<reqwest::ClientBuilder, ConfigError> {
    parse_root_certificates(pems)?;
    Ok(builder)
}
