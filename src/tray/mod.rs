//! The tray app: a thin shell over the engine. (Being built in issue 4.)

pub fn run() -> anyhow::Result<()> {
    anyhow::bail!("the tray app is not built yet; use `hyperclay-sync run --headless`")
}
