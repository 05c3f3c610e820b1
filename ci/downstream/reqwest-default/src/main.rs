//! reqwest with its default features (rustls on aws-lc-rs) and the SDK with its defaults.

#[path = "../../common/harness.rs"]
mod harness;
#[path = "../../common/own_client.rs"]
mod own_client;

use harness::BoxError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let url = harness::start_receiver().await?;
    own_client::own_client_and_request(&url).await?;
    harness::report_once(&harness::sdk_builder(&url).build()?).await?;
    println!("reqwest-default: own request and SDK report delivered");
    Ok(())
}
