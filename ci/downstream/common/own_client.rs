//! Shared by the downstream applications that use reqwest themselves: the application's own
//! client and request, and the process-wide rustls provider check of those that bring one.

use super::harness::BoxError;

/// Builds the application's own client, as it always did (a leaked feature requirement, such
/// as reqwest/rustls-no-provider without a provider, panics here), and sends one request.
pub async fn own_client_and_request(url: &str) -> Result<reqwest::Client, BoxError> {
    let own = reqwest::Client::new();
    own_request(&own, url).await?;
    Ok(own)
}

/// One request of the application's own through `client`; an error unless it succeeds.
pub async fn own_request(client: &reqwest::Client, url: &str) -> Result<(), BoxError> {
    let status = client
        .post(format!("{url}/own"))
        .body("ping")
        .send()
        .await?
        .status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the application's own request got {status}").into())
    }
}
