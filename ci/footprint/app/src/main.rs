//! Reports to `VORTEX_URL` (default a local server) until interrupted.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("VORTEX_URL").unwrap_or_else(|_| "http://127.0.0.1:8888".into());
    let client = vortex_client::HeartbeatClient::builder()
        .server_url(url)
        .app("footprint")
        .profile("production")
        .config_version("v1")
        .build()?;
    client.start().await;
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    client.stop().await;
    Ok(())
}
