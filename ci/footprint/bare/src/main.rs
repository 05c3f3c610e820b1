//! The heartbeat loop without the SDK: one POST every 30 s to `VORTEX_URL`.

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var("VORTEX_URL").unwrap_or_else(|_| "http://127.0.0.1:8888".into());
    let url = format!("{base}/api/drift/heartbeat/footprint/production");
    let host = hostname::get()?.to_string_lossy().into_owned();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    loop {
        let body = serde_json::json!({
            "instance_id": host,
            "config_version": "v1",
            "metadata": { "hostname": host },
            "health": "healthy",
        });
        let sent = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        if let Err(e) = sent {
            eprintln!("heartbeat failed: {e}");
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}
