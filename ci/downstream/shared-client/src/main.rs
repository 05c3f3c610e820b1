//! An application that hands its own configured reqwest::Client to the SDK, so that one
//! connection pool and one TLS stack serve both (HeartbeatClientBuilder::http_client).

#[path = "../../common/harness.rs"]
mod harness;

use harness::BoxError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let url = harness::start_receiver().await?;
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
    let sdk = harness::sdk_builder(&url)
        .http_client(own.clone())
        .build()?;
    harness::report_once(&sdk).await?;
    // The application's client still works after the SDK used it.
    let again = own
        .post(format!("{url}/own"))
        .body("ping")
        .send()
        .await?
        .status();
    if !again.is_success() {
        return Err(format!("the application's own request after the report got {again}").into());
    }
    println!(
        "shared-client: own requests {status}, {again}; SDK report delivered on the shared client"
    );
    Ok(())
}
