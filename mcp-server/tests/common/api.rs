//! The real MechaFil API for the integration tests: `mechafil-api`'s own router
//! (`mechafil_api::http::{router, run}`) serving its synthetic demo snapshot on a loopback port
//! of this process, exactly what `mechafil-api serve` serves from an empty data directory.
//!
//! In-process rather than the `mechafil-api` binary: Cargo gives this package's tests only its
//! own binaries (`CARGO_BIN_EXE_*`), and a `target/debug/mechafil-api` found on disk may be
//! missing or older than the code under test. The router, the request parsing, the model and
//! the serialisation are the same code the binary runs; only the process boundary differs.
//! (`README.md`, "Try it locally", runs the two binaries by hand.)
//!
//! [`ReservedPort`] is a port whose API is down but known in advance: bound without listening,
//! so connections to it are refused (as for a stopped machine) and no other process can take it
//! before [`Api::start_on`] starts the API there.

use std::net::SocketAddr;
use std::time::Duration;

use mechafil_api::config::ApiConfig;
use mechafil_api::demo::demo_snapshot;
use mechafil_api::http::{self, AppState, Served};
use serde_json::Value;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;

/// A loopback port bound but not listening: the API there is down until [`Api::start_on`].
pub struct ReservedPort {
    socket: TcpSocket,
    addr: SocketAddr,
}

impl ReservedPort {
    /// Reserves a free loopback port.
    pub fn new() -> ReservedPort {
        let socket = TcpSocket::new_v4().expect("a TCP socket");
        socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind a loopback port");
        let addr = socket.local_addr().unwrap();
        ReservedPort { socket, addr }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The API serving the demo snapshot on a loopback port, with a client for asking it directly.
pub struct Api {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Api {
    /// Starts the API on a fresh loopback port and waits until `/health` answers.
    pub async fn start() -> Api {
        Api::start_on(ReservedPort::new()).await
    }

    /// Starts the API on `port` (until now refusing connections) and waits for `/health`.
    pub async fn start_on(port: ReservedPort) -> Api {
        let base = port.url();
        let listener: TcpListener = port.socket.listen(1024).expect("listen on the reserved port");
        let demo = demo_snapshot();
        let served = Served::new(demo.meta, demo.data).expect("the demo snapshot is valid");
        let app = http::router(AppState::new(ApiConfig::default(), Ok(served)));
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(http::run(listener, app, shutdown, Duration::from_secs(5)));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
        let api = Api { base, http, stop: Some(stop), task };
        let (status, health) = api.get("/health").await;
        assert_eq!(status, 200, "the API is not healthy: {health}");
        assert_eq!(health["snapshot"]["source"], "demo", "{health}");
        api
    }

    /// `GET path` (with its query): status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.expect("GET the API");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON answer"))
    }

    /// `POST path` with a JSON body: status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response =
            self.http.post(format!("{}{path}", self.base)).json(body).send().await.expect("POST the API");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON answer"))
    }

    /// `POST /simulate` that must succeed: its answer.
    pub async fn simulate(&self, body: &Value) -> Value {
        let (status, answer) = self.post("/simulate", body).await;
        assert_eq!(status, 200, "POST /simulate {body}: {answer}");
        answer
    }

    /// Stops the API (graceful shutdown) and waits until its port is closed.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("the API task").expect("the API ran");
    }
}
