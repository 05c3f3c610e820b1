//! An application with no reqwest of its own and the SDK with its defaults.

#[path = "../../common/harness.rs"]
mod harness;

use harness::BoxError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let url = harness::start_receiver().await?;
    let sdk = harness::sdk_builder(&url).build()?;
    harness::report_once(&sdk).await?;
    println!("no-reqwest: SDK report delivered");
    Ok(())
}
