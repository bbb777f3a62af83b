//! Shared by the binary's tests: [`Server`], a `medseg serve` child process on `127.0.0.1:0`
//! spoken to in raw HTTP/1.1 (so malformed and stalled requests can be sent too), and its
//! [`Reply`].
#![allow(dead_code)] // not every test that includes this module uses every helper

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `medseg serve --pretrained ph2 --addr 127.0.0.1:0 EXTRA...` and waits for its
    /// `listening on` line.
    pub fn start(extra: &[&str]) -> Server {
        Self::start_models(&["--pretrained", "ph2"], extra)
    }

    /// [`Server::start`] serving `models` (`--pretrained NAME`, `--weights FILE`, ...).
    pub fn start_models(models: &[&str], extra: &[&str]) -> Server {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("medseg"))
            .args(["--threads", "2", "serve"])
            .args(models)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("medseg starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap().to_string();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server prints its address");
        Server {
            child,
            addr: addr.parse().unwrap(),
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], &[])
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Reply {
        self.send(
            "POST",
            path,
            &[("Content-Type", "application/octet-stream")],
            body,
        )
    }

    /// One request on its own connection (`Connection: close`); the body is written on another
    /// thread, so an early answer (413) is read even while the upload is refused.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        let write = std::thread::spawn(move || {
            let _ = writer.write_all(&bytes);
        });
        let mut raw = Vec::new();
        // A reset after the answer (the server closes on an unread upload) is fine.
        let _ = stream.read_to_end(&mut raw);
        let _ = write.join();
        Reply::parse(&raw)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP response.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn parse(raw: &[u8]) -> Reply {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if let Some(n) = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map(|(_, v)| v.parse::<usize>().unwrap())
        {
            body.truncate(n);
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: status {} body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts the status and a JSON `{"error": ...}` containing `needle`.
    pub fn assert_error(&self, status: u16, needle: &str) {
        let json = self.json();
        let message = json["error"].as_str().unwrap_or_else(|| panic!("{json}"));
        assert_eq!(self.status, status, "{message}");
        assert!(message.contains(needle), "'{message}' lacks '{needle}'");
    }
}
