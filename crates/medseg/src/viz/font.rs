//! The embedded font behind every chart label and panel caption.
//!
//! plotters' `ab_glyph` text backend knows only the fonts registered with
//! [`plotters::style::register_font`]; it never reads system fonts. We register DejaVu Sans
//! (from the `dejavu` crate; Bitstream Vera licence, DejaVu changes in the public domain) under
//! the family name `sans-serif`, which [`FontFamily::SansSerif`] looks up, once per process.

use std::sync::OnceLock;

use plotters::style::{FontFamily, FontStyle, register_font};

use crate::{Error, Result};

/// The family every viz text style uses.
pub(crate) const FAMILY: FontFamily<'static> = FontFamily::SansSerif;

/// Registers the embedded fonts (idempotent, thread-safe).
pub(crate) fn ensure_fonts() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), &'static str>> = OnceLock::new();
    let registered = REGISTERED.get_or_init(|| {
        let name = FAMILY.as_str();
        register_font(name, FontStyle::Normal, dejavu::sans::regular())
            .map_err(|_| "DejaVu Sans")?;
        register_font(name, FontStyle::Bold, dejavu::sans::bold())
            .map_err(|_| "DejaVu Sans Bold")?;
        Ok(())
    });
    registered.map_err(|face| Error::Decode {
        path: format!("<embedded font {face}>").into(),
        reason: "the font data could not be parsed".into(),
    })
}
