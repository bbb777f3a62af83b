//! The one place that knows which burn backends were compiled in.

use burn::tensor::Device;

/// Compute devices selectable with `--device`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeviceKind {
    /// The pure-Rust Flex CPU backend.
    #[default]
    Cpu,
    /// NVIDIA GPU through CUDA (feature `cuda`).
    Cuda,
    /// Any GPU through wgpu (feature `wgpu`).
    Wgpu,
}

/// Returns the burn device for `kind`, or an error saying how to rebuild.
#[allow(unreachable_code)]
pub fn select_device(kind: DeviceKind) -> anyhow::Result<Device> {
    match kind {
        DeviceKind::Cpu => {
            #[cfg(feature = "flex")]
            return Ok(Device::flex());
            anyhow::bail!("the CPU backend was not compiled in: rebuild with `--features flex`")
        }
        DeviceKind::Cuda => {
            #[cfg(feature = "cuda")]
            return Ok(Device::cuda(0));
            anyhow::bail!(
                "CUDA support was not compiled in: rebuild with `cargo build --release --features cuda`"
            )
        }
        DeviceKind::Wgpu => {
            #[cfg(feature = "wgpu")]
            return Ok(Device::wgpu(Default::default()));
            anyhow::bail!(
                "wgpu support was not compiled in: rebuild with `cargo build --release --features wgpu`"
            )
        }
    }
}
