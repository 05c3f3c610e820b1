//! The documented ring opt-in: the application installs ring before it builds clients and
//! the SDK is built with default-features = false, features = ["rustls-ring"]; run.sh
//! also checks that aws-lc-rs is not in the build.

#[path = "../../common/harness.rs"]
mod harness;
#[path = "../../common/own_client.rs"]
mod own_client;
#[path = "../../common/ring_provider.rs"]
mod ring_provider;

use harness::BoxError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let url = harness::start_receiver().await?;
    let installed = ring_provider::install_ring()?;
    own_client::own_client_and_request(&url).await?;
    harness::report_once(&harness::sdk_builder(&url).build()?).await?;
    ring_provider::check_kept(installed)?;
    println!("ring-opt-in: own request and SDK report delivered, provider kept");
    Ok(())
}
