//! `medseg data ...` (stub, owned by the data work).

#[derive(clap::Subcommand, Debug)]
pub enum DataCmd {
    /// Check a dataset tree.
    Check {},
}

pub fn run(_cmd: DataCmd) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
