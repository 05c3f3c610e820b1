//! reqwest without TLS (default-features = false, json) and the SDK with its defaults: the
//! application's own client must still build and work.

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
    println!("reqwest-plain-http: own request and SDK report delivered");
    Ok(())
}
