//! An application that hands its own configured reqwest::Client to the SDK, so that one
//! connection pool and one TLS stack serve both (HeartbeatBuilder<HeartbeatClient>::http_client).

#[path = "../../common/harness.rs"]
mod harness;
#[path = "../../common/own_client.rs"]
mod own_client;

use harness::BoxError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let url = harness::start_receiver().await?;
    let own = own_client::own_client_and_request(&url).await?;
    let sdk = harness::sdk_builder(&url)
        .http_client(own.clone())
        .build()?;
    harness::report_once(&sdk).await?;
    // The application's client still works after the SDK used it.
    own_client::own_request(&own, &url).await?;
    println!("shared-client: own requests and SDK report delivered on the shared client");
    Ok(())
}
