//! Shared by the downstream applications that install ring as the process-wide rustls
//! provider: the SDK must never install or replace it.

use super::harness::BoxError;

/// Installs ring as the process-wide provider, before any client is built (as rustls asks of
/// an application that brings its provider); returns it for [`check_kept`].
pub fn install_ring() -> Result<&'static std::sync::Arc<rustls::crypto::CryptoProvider>, BoxError> {
    rustls::crypto::ring::default_provider()
        .install_default()
        .map_err(|_| "a rustls CryptoProvider was already installed")?;
    Ok(rustls::crypto::CryptoProvider::get_default().ok_or("no provider installed")?)
}

/// The provider installed by [`install_ring`] is still the process-wide one.
pub fn check_kept(
    installed: &'static std::sync::Arc<rustls::crypto::CryptoProvider>,
) -> Result<(), BoxError> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .ok_or("the process-wide rustls provider is gone")?;
    if std::ptr::eq(installed, provider) {
        Ok(())
    } else {
        Err("the process-wide rustls provider was replaced".into())
    }
}
