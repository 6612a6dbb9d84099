//! The PostgreSQL server that tests and the load tool use ([`test_server`]): the one
//! `AIPROV_TEST_POSTGRES` names; else the machine's at [`DEFAULT_SERVER`] when it answers;
//! else a throwaway cluster started from the machine's PostgreSQL binaries (`initdb` and
//! `postgres`, as Debian installs them in `/usr/lib/postgresql/<version>/bin`) in a
//! temporary directory, on a free loopback port, for this process alone. So `cargo test`
//! needs PostgreSQL installed, not running.
//!
//! The throwaway cluster is stopped, and its directory removed, when the process that
//! started it ends, however it ends: a small shell watches a pipe from this process, and
//! the pipe closes when the process exits, even when it is killed. (Rust runs no
//! destructor of a static at exit, so a `Drop` could not do it.)

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The server tests and the load tool use unless `AIPROV_TEST_POSTGRES` names another:
/// the machine's PostgreSQL, user `postgres`, trust authentication.
pub(crate) const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Set (to anything but `0` or empty) where PostgreSQL must be had (CI): a machine with
/// none then fails the tests that need it instead of skipping them.
pub(crate) const REQUIRE_VAR: &str = "AIPROV_REQUIRE_POSTGRES";

/// Why there is no server for tests: no PostgreSQL answers and none could be started.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct NoServer(String);

/// The URL of the server to create test databases on (see the module documentation),
/// found or started once per process.
///
/// # Errors
/// [`NoServer`] when no server answers at [`DEFAULT_SERVER`] and no cluster could be
/// started, saying why and how to have one.
pub(crate) fn test_server() -> Result<String, NoServer> {
    static SERVER: OnceLock<Result<String, NoServer>> = OnceLock::new();
    SERVER.get_or_init(find_or_start).clone()
}

/// Whether this run must have PostgreSQL ([`REQUIRE_VAR`]).
pub(crate) fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn find_or_start() -> Result<String, NoServer> {
    if let Ok(server) = std::env::var("AIPROV_TEST_POSTGRES") {
        return Ok(server);
    }
    // DEFAULT_SERVER's address.
    if answers(&SocketAddr::from(([127, 0, 0, 1], 5432))) {
        return Ok(DEFAULT_SERVER.to_owned());
    }
    let Some(bin) = binaries() else {
        return Err(NoServer(format!(
            "no PostgreSQL answers at {DEFAULT_SERVER} and no initdb and postgres were found (in \
             /usr/lib/postgresql/*/bin or on PATH) to start one: install PostgreSQL (apt-get install \
             postgresql), or set AIPROV_TEST_POSTGRES to a server's URL"
        )));
    };
    let cluster = Cluster::start(&bin).map_err(|e| {
        NoServer(format!(
            "no PostgreSQL answers at {DEFAULT_SERVER}, and a throwaway cluster from {} did not start: {e}",
            bin.display()
        ))
    })?;
    let url = cluster.url.clone();
    // Kept for the life of the process: its pipe closing is what stops the cluster.
    static RUNNING: OnceLock<Mutex<Cluster>> = OnceLock::new();
    let _ = RUNNING.set(Mutex::new(cluster));
    Ok(url)
}

/// Whether something accepts TCP connections at `addr` within half a second.
fn answers(addr: &SocketAddr) -> bool {
    TcpStream::connect_timeout(addr, Duration::from_millis(500)).is_ok()
}

/// The directory holding both `initdb` and `postgres`: the newest version under
/// `/usr/lib/postgresql` (Debian, Ubuntu), else the one on PATH.
pub(crate) fn binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| has_both(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).find(|dir| has_both(dir))
}

/// A PostgreSQL cluster of its own in a temporary directory, with trust authentication
/// for the user `postgres`, listening on 127.0.0.1 only.
pub(crate) struct Cluster {
    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub(crate) url: String,
    dir: PathBuf,
    /// Closing it (or this process ending) stops the cluster and removes `dir`.
    watch: Option<ChildStdin>,
    shell: Child,
}

/// Run by `sh` as the cluster's owner: create, start, say the server's process id, then
/// wait for stdin to close, stop the server (fast shutdown) and remove the directory.
/// fsync is off: the cluster dies with the tests, so durability across a power cut is
/// not worth its time.
const WATCHER: &str = r#"
set -e
bin=$1 dir=$2 port=$3
"$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1
"$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 -c fsync=off \
  -c max_connections=300 >"$dir/postgres.log" 2>&1 &
pid=$!
echo "$pid"
read -r _ || true
kill -INT "$pid" 2>/dev/null || true
wait "$pid" || true
rm -rf "$dir"
"#;

impl Cluster {
    /// Creates and starts a cluster with the binaries in `bin`, and waits until it takes
    /// queries (30 s at most).
    ///
    /// # Errors
    /// When no port or directory can be had, `initdb` fails (its output is in the
    /// message), or the server does not answer in time.
    pub(crate) fn start(bin: &Path) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let dir = tempfile::Builder::new()
            .prefix("aiprov-postgres-")
            .tempdir()
            .map_err(|e| format!("no temporary directory: {e}"))?
            .keep();
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(WATCHER).arg("sh").arg(bin).arg(&dir).arg(port.to_string());
        sh.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group: a Ctrl-C at the terminal stops the tests, and then
            // the cluster through the pipe, rather than killing the watcher first.
            sh.process_group(0);
            // PostgreSQL refuses to run as root: as root, run it as the `postgres` user.
            if is_root() {
                let (uid, gid) =
                    postgres_user().ok_or("running as root, and there is no postgres user to run PostgreSQL as")?;
                std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                    .map_err(|e| format!("chown {}: {e}", dir.display()))?;
                sh.uid(uid).gid(gid);
            }
        }
        let mut shell = sh.spawn().map_err(|e| format!("sh: {e}"))?;
        let watch = shell.stdin.take();
        let mut first = String::new();
        let started = shell.stdout.take().map(|out| BufReader::new(out).read_line(&mut first));
        if !matches!(started, Some(Ok(n)) if n > 0) {
            let _ = shell.wait();
            let log = std::fs::read_to_string(dir.join("initdb.log")).unwrap_or_default();
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("initdb failed: {}", log.trim()));
        }
        let cluster = Self { url: format!("postgres://postgres@127.0.0.1:{port}/postgres"), dir, watch, shell };
        cluster.wait_until_ready(Duration::from_secs(30))?;
        Ok(cluster)
    }

    /// Polls the server with a query: it accepts connections before it takes queries
    /// ("the database system is starting up").
    fn wait_until_ready(&self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            match query(&self.url, "SELECT 1") {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    let log = std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
                    return Err(format!("the server did not answer in {limit:?} ({e}): {}", log.trim()));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// The cluster's directory (gone once it stopped).
    #[cfg(test)]
    fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Stops the server and removes its directory, waiting for both. The cluster of
/// [`test_server`] is in a static and never dropped: it stops when the process ends.
impl Drop for Cluster {
    fn drop(&mut self) {
        drop(self.watch.take());
        let _ = self.shell.wait();
    }
}

/// Whether this process runs as root (its effective user id is 0), read from
/// `/proc/self/status` so that no FFI is needed.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").map(|u| u.split_whitespace().nth(1) == Some("0"))))
        .unwrap_or(false)
}

/// The user and group ids of the `postgres` user, from `/etc/passwd`.
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let mut fields = line.split(':').skip(2);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// Runs `sql` on `server` from a thread of its own, with a runtime of its own: callers may
/// be inside a runtime (async tests) or not.
pub(crate) fn query(server: &str, sql: &str) -> Result<(), String> {
    let (server, sql) = (server.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
                .await
                .map_err(|e| super::super::describe(&e))?;
            tokio::spawn(connection);
            client.batch_execute(&sql).await.map_err(|e| super::super::describe(&e))
        })
    })
    .join()
    .map_err(|_| "the database thread panicked".to_owned())?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway cluster starts from the machine's binaries, takes a database, and is
    /// gone, directory and all, once stopped.
    #[test]
    fn a_throwaway_cluster_starts_answers_and_is_removed() {
        let Some(bin) = binaries() else {
            assert!(!required(), "{REQUIRE_VAR} is set but no initdb and postgres were found");
            eprintln!("no initdb and postgres found (install PostgreSQL): the throwaway cluster is not tested");
            return;
        };
        let cluster = Cluster::start(&bin).expect("a throwaway cluster starts");
        assert!(cluster.url.starts_with("postgres://postgres@127.0.0.1:"), "{}", cluster.url);
        query(&cluster.url, "CREATE DATABASE aiprov_cluster_test").expect("it creates a database");
        let db = format!("{}/aiprov_cluster_test", cluster.url.rsplit_once('/').unwrap().0);
        query(&db, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)").expect("and uses it");
        let dir = cluster.dir().to_owned();
        assert!(dir.join("data").is_dir());
        drop(cluster);
        assert!(!dir.exists(), "{} is removed", dir.display());
    }
}
