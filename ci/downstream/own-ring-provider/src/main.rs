//! An application that installs ring as the process-wide rustls provider before it builds
//! clients, on reqwest's rustls-no-provider, and the SDK with its defaults.

#[path = "../../common/harness.rs"]
mod harness;

use harness::BoxError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let url = harness::start_receiver().await?;
    // Before any client is built, as rustls asks of an application that brings its provider.
    rustls::crypto::ring::default_provider()
        .install_default()
        .map_err(|_| "a rustls CryptoProvider was already installed")?;
    let installed = rustls::crypto::CryptoProvider::get_default().ok_or("no provider installed")?;
    // The application's own client, built as it always was: a leaked feature requirement
    // (such as reqwest/rustls-no-provider without a provider) panics here.
    let own = reqwest::Client::new();
    let status = own
        .post(format!("{url}/own"))
        .body("ping")
        .send()
        .await?
        .status();
    if !status.is_success() {
        return Err(format!("the application's own request got {status}").into());
    }
    let sdk = harness::sdk_builder(&url).build()?;
    harness::report_once(&sdk).await?;
    // The SDK never installs or replaces the process-wide provider.
    let provider = rustls::crypto::CryptoProvider::get_default()
        .ok_or("the process-wide rustls provider is gone")?;
    if !std::ptr::eq(installed, provider) {
        return Err("the process-wide rustls provider was replaced".into());
    }
    println!("own-ring-provider: own request {status}, SDK report delivered, provider kept");
    Ok(())
}
