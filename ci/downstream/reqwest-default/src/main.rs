//! reqwest with its default features (rustls on aws-lc-rs) and the SDK with its defaults.

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
    println!("reqwest-default: own request {status}, SDK report delivered");
    Ok(())
}
