//! Every failure of the API as a status code and a JSON body `{"error": "..."}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An API failure: the status and a message for the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// The status of a library error: too many pixels 413, an undecodable image 422, a bad
    /// value 400, anything else 500 (with a generic message: it may name server files).
    pub fn from_library(e: medseg::Error) -> Self {
        use medseg::Error as E;
        match e {
            E::TooManyPixels { .. } => Self::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
            E::Decode { .. } => Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            E::InvalidInput(_) | E::InvalidConfig(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            other => {
                tracing::error!("segmentation failed: {other}");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
