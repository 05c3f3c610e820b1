//! reqwest without TLS (default-features = false, json) and the SDK with its defaults: the
//! application's own client must still build and work.

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
    let sdk = harness::sdk_builder(&url).build()?;
    harness::report_once(&sdk).await?;
    println!("reqwest-plain-http: own request {status}, SDK report delivered");
    Ok(())
}
