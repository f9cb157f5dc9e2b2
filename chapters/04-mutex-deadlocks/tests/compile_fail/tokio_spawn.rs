// ANCHOR: program
// tokio::spawn refuses a task that holds a std MutexGuard across an .await.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

async fn registry_lookup(sensor_id: &str) -> String {
    futures_lite::future::yield_now().await;
    format!("site of {sensor_id}")
}

#[tokio::main]
async fn main() {
    let cache: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let worker = tokio::spawn(async move {
        let mut cache = cache.lock().unwrap();
        let site = registry_lookup("s-0001").await; // the guard is still alive here
        cache.insert("s-0001".into(), site);
    });
    worker.await.unwrap();
}
// ANCHOR_END: program
