mod tray;

fn main() -> anyhow::Result<()> {
    tray::run()
}
