//! `medseg serve` through its HTTP API: every route and every bad input the server must turn into
//! a clear 4xx or 5xx (never a crash). Each test starts the binary on `127.0.0.1:0` with the small
//! pretrained PH2 model (its preprocessing resizes to 256x256, so any image costs the same) and
//! talks raw HTTP/1.1 to it ([`common::Server`]), so malformed and stalled requests can be sent
//! too. A model with several classes is served in `tests/multi.rs`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;

mod common;
use common::{Reply, Server};

/// A running `medseg serve`, killed on drop.
fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let d = ((x as i32 - 32).pow(2) + (y as i32 - 24).pow(2)) as f32;
        let v = if d < 300.0 { 70 } else { 200 };
        image::Rgb([v, (v as u32 * 3 / 4) as u8, (x * 2) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn decode_png(json: &serde_json::Value, key: &str) -> image::DynamicImage {
    let b64 = json[key].as_str().unwrap_or_else(|| panic!("no {key}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap()
}

#[test]
fn page_health_models_and_unknown_routes() {
    let s = Server::start(&[]);
    let page = s.get("/");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("id=\"threshold\"") && html.contains("/v1/segment"));

    let health = s.get("/healthz");
    assert_eq!(health.status, 200);
    let h = health.json();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["in_flight"], 0);

    let models = s.get("/v1/models").json();
    assert_eq!(models["default"], "ph2");
    assert_eq!(models["models"][0]["name"], "ph2");
    assert_eq!(models["models"][0]["source"], "pretrained");
    assert_eq!(models["models"][0]["threshold"], 0.5);

    s.get("/v1/nothing").assert_error(404, "no route");
    s.get("/v1/segment").assert_error(405, "GET is not allowed");
    s.post("/healthz", b"x").assert_error(405, "POST");
}

#[test]
fn segment_returns_sizes_timing_and_three_pngs() {
    let s = Server::start(&[]);
    let image = png(64, 48);
    let reply = s.post("/v1/segment", &image);
    assert_eq!(reply.status, 200);
    let j = reply.json();
    assert_eq!(
        (j["width"].as_u64(), j["height"].as_u64()),
        (Some(64), Some(48))
    );
    assert_eq!(j["model"], "ph2");
    assert_eq!(j["format"], "png");
    assert_eq!(j["threshold"], 0.5);
    assert_eq!(j["tta"], false);
    assert_eq!(j["scale"]["mode"], "auto");
    assert_eq!(j["scale"]["factor"], 1.0);
    for k in ["queue", "decode", "inference", "encode", "total"] {
        assert!(j["timing_ms"][k].as_f64().unwrap() >= 0.0, "{k}");
    }
    let fraction = j["foreground_fraction"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&fraction));
    let prob = decode_png(&j, "probability_png");
    assert!(matches!(prob, image::DynamicImage::ImageLuma16(_)));
    let mask = decode_png(&j, "mask_png").to_luma8();
    let overlay = decode_png(&j, "overlay_png").to_rgb8();
    assert_eq!(mask.dimensions(), (64, 48));
    assert_eq!(overlay.dimensions(), (64, 48));
    assert!(mask.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
    let on = mask.pixels().filter(|p| p.0[0] == 255).count() as f64 / (64.0 * 48.0);
    assert!((on - fraction).abs() < 1e-9, "{on} vs {fraction}");
    assert!(j.get("original_png").is_none());

    // the mask follows the threshold; tta, scale and original are honoured
    let low = s
        .post(
            "/v1/segment?threshold=0.01&tta=true&scale=none&original=true",
            &image,
        )
        .json();
    assert_eq!(low["threshold"], 0.01);
    assert_eq!(low["tta"], true);
    assert_eq!(low["scale"]["mode"], "none");
    assert!(low["foreground_fraction"].as_f64().unwrap() >= fraction);
    assert_eq!(
        decode_png(&low, "original_png").to_rgb8().dimensions(),
        (64, 48)
    );

    // a multipart form gives the same answer as the raw body
    let boundary = "XmedsegX";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"eye.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&image);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ctype = format!("multipart/form-data; boundary={boundary}");
    let multi = s.send("POST", "/v1/segment", &[("Content-Type", &ctype)], &form);
    assert_eq!(multi.status, 200);
    let m = multi.json();
    assert_eq!(m["mask_png"], j["mask_png"]);
    assert_eq!(m["foreground_fraction"], j["foreground_fraction"]);

    // a same-origin browser request is served
    let origin = format!("http://{}", s.addr);
    let same = s.send("POST", "/v1/segment", &[("Origin", &origin)], &image);
    assert_eq!(same.status, 200);
}

#[test]
fn bad_inputs_get_clear_4xx_answers() {
    let s = Server::start(&["--max-upload-mib", "1", "--max-megapixels", "1"]);
    let image = png(64, 48);
    // not an image, empty, truncated
    s.post("/v1/segment", b"hello, world")
        .assert_error(415, "not an image");
    s.post("/v1/segment", b"").assert_error(415, "not an image");
    s.post("/v1/segment", &image[..image.len() / 2])
        .assert_error(422, "cannot decode upload");
    // an upload over the limit, declared or not
    let big = vec![0u8; (1 << 20) + 10];
    let r = s.post("/v1/segment", &big);
    r.assert_error(413, "larger than the 1 MiB");
    // a small file declaring a large canvas (decompression bomb) is refused from its header
    let bomb = {
        let img = image::GrayImage::new(1500, 1000);
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    assert!(bomb.len() < 100_000);
    s.post("/v1/segment", &bomb)
        .assert_error(413, "1500x1000 image has more than the 1 megapixels");
    // parameters
    s.post("/v1/segment?model=nope", &image)
        .assert_error(404, "unknown model 'nope' (valid: ph2)");
    s.post("/v1/segment?threshold=1.5", &image)
        .assert_error(400, "threshold must be in (0, 1)");
    s.post("/v1/segment?threshold=abc", &image)
        .assert_error(400, "threshold");
    s.post("/v1/segment?scale=-2", &image)
        .assert_error(400, "scale must be auto, none or a factor");
    s.post("/v1/segment?file=/etc/passwd", &image)
        .assert_error(400, "unknown field `file`");
    s.post("/v1/segment?scale=1000", &image)
        .assert_error(422, "scale factor 1000");
    // a multipart form without a file, a malformed one
    let ctype = "multipart/form-data; boundary=B";
    let form = b"--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--B--\r\n";
    s.send("POST", "/v1/segment", &[("Content-Type", ctype)], form)
        .assert_error(400, "no file field");
    s.send(
        "POST",
        "/v1/segment",
        &[("Content-Type", ctype)],
        b"garbage",
    )
    .assert_error(400, "");
    // a page from another origin
    s.send(
        "POST",
        "/v1/segment",
        &[("Origin", "http://example.com")],
        &image,
    )
    .assert_error(403, "cross-origin");
    // and the server still works
    assert_eq!(s.post("/v1/segment", &image).status, 200);
}

#[test]
fn random_and_corrupted_bodies_never_crash_the_server() {
    let s = Server::start(&[]);
    let image = png(40, 30);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let headers: [&[u8]; 7] = [
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0",
        b"GIF89a",
        b"BM",
        b"II*\0",
        b"P6\n",
        b"P5\n99999 99999\n255\n",
    ];
    for i in 0..40 {
        let body: Vec<u8> = if i % 2 == 0 {
            // a real PNG with bytes flipped
            let mut b = image.clone();
            for _ in 0..4 {
                let at = (next() as usize) % b.len();
                b[at] ^= next() as u8;
            }
            b
        } else {
            // a format's magic bytes and noise
            let mut b = headers[i / 2 % headers.len()].to_vec();
            b.extend((0..(next() % 300)).map(|_| next() as u8));
            b
        };
        let r = s.post("/v1/segment", &body);
        assert!(
            r.status == 200 || (400..500).contains(&r.status),
            "case {i}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        r.json();
    }
    assert_eq!(s.get("/healthz").json()["in_flight"], 0);
}

/// Opens a connection that sends its head and part of its body, then stalls.
fn stall(s: &Server) -> TcpStream {
    let mut stream = TcpStream::connect(s.addr).unwrap();
    write!(
        stream,
        "POST /v1/segment HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000\r\n\r\n0123456789",
        s.addr
    )
    .unwrap();
    stream.flush().unwrap();
    stream
}

#[test]
fn a_full_queue_answers_503_and_a_stalled_upload_times_out() {
    let s = Server::start(&["--queue", "1", "--timeout-secs", "2"]);
    let image = png(64, 48);
    let start = Instant::now();
    let mut stalled = stall(&s);
    // wait until the stalled request holds the only slot
    while s.get("/healthz").json()["in_flight"] != 1 {
        assert!(start.elapsed() < Duration::from_secs(10), "never admitted");
        std::thread::sleep(Duration::from_millis(20));
    }
    let busy = s.post("/v1/segment", &image);
    busy.assert_error(503, "busy");
    assert_eq!(busy.header("retry-after"), Some("1"));
    // the stalled upload is answered 408 when its time is up, and frees the slot
    let mut raw = Vec::new();
    stalled
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let _ = stalled.read_to_end(&mut raw);
    Reply::parse(&raw).assert_error(408, "upload took longer than the 2 s");
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert_eq!(s.post("/v1/segment", &image).status, 200);
}

#[test]
fn a_segmentation_past_the_deadline_answers_504() {
    let s = Server::start(&["--timeout-secs", "0.02"]);
    // TTA on a 256x256 network input takes far longer than 20 ms
    s.post("/v1/segment?tta=true", &png(64, 48))
        .assert_error(504, "longer than the 0.02 s");
    // the abandoned work ends and frees its slot
    let start = Instant::now();
    while s.get("/healthz").json()["in_flight"] != 0 {
        assert!(start.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn binding_beyond_loopback_needs_allow_remote() {
    let out = Command::new(assert_cmd::cargo::cargo_bin("medseg"))
        .args(["serve", "--pretrained", "ph2", "--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a loopback address") && err.contains("--allow-remote"),
        "{err}"
    );

    let mut child = Command::new(assert_cmd::cargo::cargo_bin("medseg"))
        .args([
            "serve",
            "--pretrained",
            "ph2",
            "--addr",
            "0.0.0.0:0",
            "--allow-remote",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening on http://0.0.0.0:"), "{line}");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: serving on 0.0.0.0"), "{err}");

    let out = Command::new(assert_cmd::cargo::cargo_bin("medseg"))
        .args(["serve", "--pretrained", "ph2", "--pretrained", "ph2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("two models are named 'ph2'"));
}

/// A skin-coloured picture with a dark, irregular lesion (what the PH2 model was trained on).
fn lesion_png(path: &std::path::Path) {
    let (w, h) = (384u32, 288u32);
    image::RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - 190.0, y as f32 - 140.0);
        let angle = dy.atan2(dx);
        let radius = 85.0 + 14.0 * (3.0 * angle).sin() + 8.0 * (7.0 * angle).cos();
        let d = (dx * dx + dy * dy).sqrt();
        let grain = ((x * 7 + y * 13) % 11) as f32;
        if d < radius {
            let t = d / radius;
            let v = 60.0 + 60.0 * t + grain;
            image::Rgb([(v * 1.2) as u8, (v * 0.8) as u8, (v * 0.6) as u8])
        } else {
            image::Rgb([
                (214.0 + grain) as u8,
                (168.0 + grain) as u8,
                (146.0 + grain) as u8,
            ])
        }
    })
    .save(path)
    .unwrap();
}

/// A Chrome DevTools Protocol connection to a headless chromium.
struct Browser {
    child: Child,
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    next_id: u64,
    session: Option<String>,
}

impl Browser {
    /// Starts `$MEDSEG_CHROMIUM` (default `chromium`) headless and connects to it.
    fn start(profile: &std::path::Path) -> Browser {
        let exe = std::env::var("MEDSEG_CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let mut child = Command::new(&exe)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--window-size=1200,820",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {exe} ({e}): apt-get install chromium"));
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("ws://") {
                    let _ = tx.send(line[at..].trim().to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium prints its DevTools address");
        let (ws, _) = tungstenite::connect(url).expect("DevTools websocket");
        Browser {
            child,
            ws,
            next_id: 0,
            session: None,
        }
    }

    /// Sends a command (to the attached page, if any) and returns its result.
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = serde_json::json!({ "id": id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = serde_json::Value::String(s.clone());
        }
        self.ws
            .send(tungstenite::Message::text(msg.to_string()))
            .unwrap();
        loop {
            let reply = self.ws.read().expect("DevTools message");
            let Ok(text) = reply.to_text() else { continue };
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            if v["id"].as_u64() == Some(id) {
                assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
        }
    }

    /// Opens a page at `url` and attaches to it.
    fn open(&mut self, url: &str) {
        let target = self.call(
            "Target.createTarget",
            serde_json::json!({ "url": "about:blank" }),
        );
        let attached = self.call(
            "Target.attachToTarget",
            serde_json::json!({ "targetId": target["targetId"], "flatten": true }),
        );
        self.session = Some(attached["sessionId"].as_str().unwrap().to_string());
        self.call(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({ "width": 1200, "height": 820, "deviceScaleFactor": 1, "mobile": false }),
        );
        self.call("Page.navigate", serde_json::json!({ "url": url }));
    }

    /// The value of a JavaScript expression (JSON-serialisable).
    fn eval(&mut self, expr: &str) -> serde_json::Value {
        let r = self.call(
            "Runtime.evaluate",
            serde_json::json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Waits until `expr` is true.
    fn wait_for(&mut self, expr: &str, what: &str) {
        let start = Instant::now();
        while self.eval(expr) != serde_json::Value::Bool(true) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out: {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A real mouse click at page coordinates.
    fn click(&mut self, x: f64, y: f64) {
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                serde_json::json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the page's canvas shows: a hash of its pixels, the foreground share and the threshold.
const CANVAS_STATE: &str = r#"(() => {
  const c = document.getElementById("view");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let hash = 0, green = 0;
  for (let i = 0; i < d.length; i += 4) {
    hash = (Math.imul(hash, 31) + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) | 0;
    if (d[i + 1] > d[i] + 40) green++;
  }
  return { w: c.width, h: c.height, hash, green,
           threshold: parseFloat(document.getElementById("threshold").value) };
})()"#;

/// The page in a real browser: upload an image, see the overlay, move the threshold slider with
/// the mouse and watch the overlay's pixels change; with `MEDSEG_SCREENSHOT=FILE`, a screenshot.
/// Needs chromium (`scripts/browser-test.sh`).
#[test]
#[ignore = "needs chromium: scripts/browser-test.sh"]
fn the_page_segments_an_upload_and_rethresholds_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("lesion.png");
    lesion_png(&image);
    let s = Server::start(&[]);
    let mut b = Browser::start(&dir.path().join("profile"));
    b.open(&format!("http://{}/", s.addr));
    b.wait_for(
        "document.readyState === 'complete' && document.getElementById('model').options.length > 0",
        "the page lists the models",
    );
    assert_eq!(b.eval("document.getElementById('model').value"), "ph2");

    let doc = b.call("DOM.getDocument", serde_json::json!({}));
    let input = b.call(
        "DOM.querySelector",
        serde_json::json!({ "nodeId": doc["root"]["nodeId"], "selector": "#files" }),
    );
    b.call(
        "DOM.setFileInputFiles",
        serde_json::json!({ "nodeId": input["nodeId"], "files": [image.to_str().unwrap()] }),
    );
    b.wait_for(
        "document.body.dataset.status === 'idle' && +document.body.dataset.rendered > 0",
        "the overlay is drawn",
    );
    let progress = b.eval("document.getElementById('progress').textContent");
    assert!(
        progress
            .as_str()
            .unwrap()
            .starts_with("1 of 1 image(s) segmented"),
        "{progress}"
    );
    let first = b.eval(CANVAS_STATE);
    assert_eq!(
        (first["w"].as_u64(), first["h"].as_u64()),
        (Some(384), Some(288))
    );
    assert_eq!(first["threshold"], 0.5);
    assert!(first["green"].as_u64().unwrap() > 0, "no overlay: {first}");

    // drag-free slider moves: click near its left end (low threshold) and its right end
    let rect = b.eval(
        "(() => { const r = document.getElementById('threshold').getBoundingClientRect(); \
         return { x: r.x, y: r.y, w: r.width, h: r.height }; })()",
    );
    let (x, y, w, h) = (
        rect["x"].as_f64().unwrap(),
        rect["y"].as_f64().unwrap(),
        rect["w"].as_f64().unwrap(),
        rect["h"].as_f64().unwrap(),
    );
    b.click(x + 0.05 * w, y + h / 2.0);
    let low = b.eval(CANVAS_STATE);
    assert!(low["threshold"].as_f64().unwrap() < 0.2, "{low}");
    assert_ne!(low["hash"], first["hash"], "the overlay did not change");
    assert!(
        low["green"].as_u64() >= first["green"].as_u64(),
        "{low} vs {first}"
    );
    b.click(x + 0.95 * w, y + h / 2.0);
    let high = b.eval(CANVAS_STATE);
    assert!(high["threshold"].as_f64().unwrap() > 0.8, "{high}");
    assert_ne!(high["hash"], low["hash"]);
    assert!(
        high["green"].as_u64() <= first["green"].as_u64(),
        "{high} vs {first}"
    );

    // back to the model's threshold for the picture, and the opacity slider works too
    b.eval(
        "(() => { const t = document.getElementById('threshold'); t.value = 0.5; \
         t.dispatchEvent(new Event('input')); })()",
    );
    assert_eq!(b.eval(CANVAS_STATE)["hash"], first["hash"]);
    b.eval(
        "(() => { const o = document.getElementById('opacity'); o.value = 0.4; \
         o.dispatchEvent(new Event('input')); })()",
    );
    assert_ne!(b.eval(CANVAS_STATE)["hash"], first["hash"]);
    if let Ok(path) = std::env::var("MEDSEG_SCREENSHOT") {
        let shot = b.call(
            "Page.captureScreenshot",
            serde_json::json!({ "format": "png" }),
        );
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
}
