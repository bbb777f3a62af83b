//! The routes: the page, `GET /healthz`, `GET /v1/models` and `POST /v1/segment`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse};
use base64::Engine;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use medseg::data::io::{read_rgb_bytes, recognised_format};
use medseg::infer::scale::ScaleMode;
use medseg::infer::{PredictOptions, to_rgb8};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;

/// The page, compiled into the binary.
const PAGE: &str = include_str!("page.html");

/// How an upload is named in messages (never a path a client chose).
const UPLOAD: &str = "upload";

/// `GET /`: the web page.
pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(PAGE),
    )
}

/// Anything else: 404 (or 405 for a known path), as JSON.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    let known = ["/", "/healthz", "/v1/models", "/v1/segment"].contains(&uri.path());
    if known {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on {}", uri.path()),
        )
    } else {
        ApiError::new(StatusCode::NOT_FOUND, format!("no route {}", uri.path()))
    }
}

/// `GET /healthz`.
pub async fn health(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let capacity = state.limits.queue;
    Json(serde_json::json!({
        "status": "ok",
        "models": state.models.len(),
        "in_flight": capacity - state.queue.available_permits(),
        "queue": capacity,
    }))
}

/// One entry of `GET /v1/models`.
#[derive(Serialize)]
struct ModelInfo<'a> {
    name: &'a str,
    source: &'static str,
    /// The experiment the weights come from.
    experiment: &'a str,
    dataset: Option<String>,
    threshold: f64,
    scale_reference: Option<serde_json::Value>,
    fused: bool,
    tile: [u32; 2],
    /// `binary`, `multi-label` or `multi-class`.
    mode: &'static str,
    /// The class names in output-channel order (`["foreground"]` for a binary model).
    classes: Vec<String>,
}

/// `GET /v1/models`: the models, the first being the default.
pub async fn models(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let list: Vec<ModelInfo> = state
        .models
        .iter()
        .map(|m| {
            let meta = &m.predictor.meta;
            ModelInfo {
                name: &m.name,
                source: m.source,
                experiment: &meta.name,
                dataset: meta.dataset.map(|d| format!("{d:?}").to_lowercase()),
                threshold: meta.threshold,
                scale_reference: meta
                    .scale_reference
                    .and_then(|r| serde_json::to_value(r).ok()),
                fused: meta.fused,
                tile: meta.tiling.tile,
                mode: meta.labels.mode.as_str(),
                classes: meta.labels.names(),
            }
        })
        .collect();
    Json(serde_json::json!({ "default": state.models[0].name, "models": list }))
}

/// The query parameters of `POST /v1/segment`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct SegmentQuery {
    model: Option<String>,
    threshold: Option<f64>,
    scale: Option<String>,
    tta: Option<bool>,
    original: Option<bool>,
}

#[derive(Serialize)]
struct ScaleInfo {
    mode: String,
    factor: f64,
    fov_diameter: Option<f64>,
    fov_fallback: bool,
}

#[derive(Serialize, Default)]
struct Timing {
    queue: f64,
    decode: f64,
    inference: f64,
    encode: f64,
    total: f64,
}

/// The answer of `POST /v1/segment`.
#[derive(Serialize)]
pub struct SegmentResponse {
    model: String,
    format: &'static str,
    width: u32,
    height: u32,
    threshold: f64,
    tta: bool,
    foreground_fraction: f64,
    scale: ScaleInfo,
    timing_ms: Timing,
    probability_png: String,
    mask_png: String,
    overlay_png: String,
    /// The decoded image as 8-bit RGB, with `?original=true` (for a page whose browser cannot
    /// decode the upload's format itself, e.g. TIFF).
    #[serde(skip_serializing_if = "Option::is_none")]
    original_png: Option<String>,
    /// A model with several classes: one entry per class, in channel order. `mask_png` is then
    /// the label map (each pixel its class's index), `overlay_png` the classes in their
    /// colours with a legend, `probability_png` the first class's map and
    /// `foreground_fraction` the share of pixels in any class but a multi-class background.
    #[serde(skip_serializing_if = "Option::is_none")]
    classes: Option<Vec<ClassOutput>>,
}

/// One class of a [`SegmentResponse`].
#[derive(Serialize)]
struct ClassOutput {
    name: String,
    colour: [u8; 3],
    foreground_fraction: f64,
    probability_png: String,
    mask_png: String,
}

fn scale_name(mode: ScaleMode) -> String {
    match mode {
        ScaleMode::Auto => "auto".into(),
        ScaleMode::None => "none".into(),
        ScaleMode::Factor(f) => f.to_string(),
    }
}

/// Refuses requests that a page from another origin made (a browser always sends `Origin`
/// with a cross-origin POST; curl and scripts send none).
fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let same = match (origin.to_str().ok(), host) {
        (Some(o), Some(h)) => o.strip_prefix("http://") == Some(h),
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross-origin requests are refused",
        ))
    }
}

/// `POST /v1/segment`: the image is the raw body or the first file of a multipart form.
pub async fn segment(
    State(state): State<Arc<AppState>>,
    query: Result<Query<SegmentQuery>, QueryRejection>,
    request: Request,
) -> Result<Json<SegmentResponse>, ApiError> {
    let start = Instant::now();
    check_origin(request.headers())?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let model_index = match &query.model {
        None => 0,
        Some(name) => state
            .models
            .iter()
            .position(|m| &m.name == name)
            .ok_or_else(|| {
                let valid: Vec<&str> = state.models.iter().map(|m| m.name.as_str()).collect();
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("unknown model '{name}' (valid: {})", valid.join(", ")),
                )
            })?,
    };
    let meta = &state.models[model_index].predictor.meta;
    let threshold = query.threshold.unwrap_or(meta.threshold);
    if !(threshold > 0.0 && threshold < 1.0) {
        return Err(ApiError::bad_request(format!(
            "threshold must be in (0, 1), got {threshold}"
        )));
    }
    let scale = match &query.scale {
        None => None,
        Some(s) => Some(
            s.parse::<ScaleMode>()
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
        ),
    };
    let mode = scale.unwrap_or(state.models[model_index].predictor.scale);
    let tta = query.tta.unwrap_or(meta.tiling.mirror);
    let original = query.original.unwrap_or(false);

    let queue_permit = state.queue.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the server is busy ({} requests in flight); retry later",
                state.limits.queue
            ),
        )
    })?;
    let limit = state.limits.max_upload_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let deadline = tokio::time::Instant::from_std(start) + state.limits.timeout;
    let timeout_secs = state.limits.timeout.as_secs_f64();
    let bytes = tokio::time::timeout_at(deadline, read_image(request, limit))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("the upload took longer than the {timeout_secs} s allowed"),
            )
        })??;
    let format = recognised_format(&bytes).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body is not an image this server reads (PNG, JPEG, TIFF, GIF, BMP or PNM)",
        )
    })?;

    let work_state = state.clone();
    let work = async move {
        let job_permit = work_state
            .jobs
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
        let queued = start.elapsed().as_secs_f64();
        let task = tokio::task::spawn_blocking(move || {
            // Both permits live until the work ends, even if the client has gone.
            let _permits = (queue_permit, job_permit);
            let s = &work_state;
            s.pool.install(|| {
                segment_blocking(
                    s,
                    model_index,
                    &bytes,
                    threshold,
                    original,
                    PredictOptions {
                        scale: Some(mode),
                        mirror: Some(tta),
                    },
                )
            })
        });
        match task.await {
            Ok(result) => result.map(|(r, t)| (r, t, queued)),
            Err(e) => {
                tracing::error!("segmentation task failed: {e}");
                Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                ))
            }
        }
    };
    let (mut response, mut timing, queued) = tokio::time::timeout_at(deadline, work)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!("segmentation took longer than the {timeout_secs} s allowed"),
            )
        })??;
    timing.queue = queued * 1e3;
    timing.total = start.elapsed().as_secs_f64() * 1e3;
    response.timing_ms = timing;
    response.format = format;
    response.scale.mode = scale_name(mode);
    response.tta = tta;
    response.model = state.models[model_index].name.clone();
    Ok(Json(response))
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the upload is larger than the {} MiB allowed",
            limit as f64 / (1u64 << 20) as f64
        ),
    )
}

/// The image bytes of a request: its body, or the first file field of a multipart form.
async fn read_image(request: Request, limit: u64) -> Result<Bytes, ApiError> {
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, limit as usize)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                too_large(limit)
            } else {
                ApiError::bad_request(format!("reading the body: {e}"))
            }
        })?
        .to_bytes();
    let is_multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Ok(body);
    }
    let request = Request::from_parts(parts, Body::from(body));
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?
    {
        if field.file_name().is_some() || matches!(field.name(), Some("image" | "file")) {
            return field
                .bytes()
                .await
                .map_err(|e| ApiError::bad_request(e.body_text()));
        }
    }
    Err(ApiError::bad_request(
        "the multipart form has no file field (send the image as a field named 'image')",
    ))
}

/// `img` as a base64 PNG.
fn png<P, C>(img: &image::ImageBuffer<P, C>) -> Result<String, ApiError>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
    C: std::ops::Deref<Target = [P::Subpixel]>,
{
    medseg::viz::encode_png(img)
        .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
        .map_err(|e| {
            tracing::error!("encoding a PNG: {e}");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        })
}

/// Decoding, segmentation and PNG encoding of one upload (on a blocking thread).
fn segment_blocking(
    state: &AppState,
    model_index: usize,
    bytes: &[u8],
    threshold: f64,
    original: bool,
    options: PredictOptions,
) -> Result<(SegmentResponse, Timing), ApiError> {
    let predictor = &state.models[model_index].predictor;
    let t0 = Instant::now();
    let image = read_rgb_bytes(bytes, Path::new(UPLOAD), state.limits.max_pixels)
        .map_err(ApiError::from_library)?;
    let fov = predictor.fov_for(&image);
    let t1 = Instant::now();
    let prediction = predictor
        .predict_classes(&image, &fov, options)
        .map_err(ApiError::from_library)?;
    let t2 = Instant::now();
    let labels = &predictor.meta.labels;
    let (foreground_fraction, probability_png, mask_png, overlay_png, classes) =
        if labels.is_binary() {
            let pictures = medseg::infer::Prediction {
                prob: prediction.probs[0].clone(),
                fov: prediction.fov.clone(),
                seconds: prediction.seconds,
                scale: prediction.scale,
            }
            .pictures(&image, threshold);
            (
                pictures.foreground_fraction,
                png(&pictures.probability)?,
                png(&pictures.mask)?,
                png(&pictures.overlay)?,
                None,
            )
        } else {
            let pictures = prediction.pictures(&image, labels, threshold);
            // the structures' masks: all of them, but a multi-class background (label 0)
            let multi_class = labels.mode == medseg::data::labels::LabelMode::MultiClass;
            let ids = labels.ids();
            let structures: Vec<&Vec<bool>> = pictures
                .masks
                .iter()
                .enumerate()
                .filter(|(k, _)| !(multi_class && ids[*k] == 0))
                .map(|(_, m)| m)
                .collect();
            let any = (0..pictures.masks[0].len())
                .filter(|&i| structures.iter().any(|m| m[i]))
                .count();
            let classes = pictures
                .classes
                .iter()
                .map(|c| {
                    Ok(ClassOutput {
                        name: c.name.clone(),
                        colour: c.colour,
                        foreground_fraction: c.foreground_fraction,
                        probability_png: png(&c.probability)?,
                        mask_png: png(&c.mask)?,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            (
                any as f64 / pictures.masks[0].len().max(1) as f64,
                png(&pictures.classes[0].probability)?,
                png(&pictures.label_map)?,
                png(&pictures.overlay)?,
                Some(classes),
            )
        };
    let response = SegmentResponse {
        model: String::new(),
        format: "",
        width: image.width,
        height: image.height,
        threshold,
        tta: false,
        foreground_fraction,
        scale: ScaleInfo {
            mode: String::new(),
            factor: prediction.scale.factor,
            fov_diameter: prediction.scale.diameter,
            fov_fallback: prediction.scale.fov_fallback,
        },
        timing_ms: Timing::default(),
        probability_png,
        mask_png,
        overlay_png,
        original_png: match original {
            false => None,
            true => {
                let rgb = to_rgb8(&image);
                let img =
                    image::RgbImage::from_raw(image.width, image.height, rgb).ok_or_else(|| {
                        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
                    })?;
                Some(png(&img)?)
            }
        },
        classes,
    };
    let timing = Timing {
        decode: (t1 - t0).as_secs_f64() * 1e3,
        inference: (t2 - t1).as_secs_f64() * 1e3,
        encode: t2.elapsed().as_secs_f64() * 1e3,
        ..Timing::default()
    };
    Ok((response, timing))
}
