//! Experiment config parsing and validation: any text gives a config or a typed error; a config
//! that parses writes TOML that parses again to the same config.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use medseg::train::ExperimentConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = Path::new("fuzz.toml");
    if let Ok(cfg) = ExperimentConfig::from_toml(text, origin) {
        let _ = cfg.model_config();
        let again = ExperimentConfig::from_toml(&cfg.to_toml(), origin)
            .expect("a valid config's own TOML parses");
        assert_eq!(again.to_toml(), cfg.to_toml());
    }
});
