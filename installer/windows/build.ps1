# Builds the Windows installer: the two release binaries, hyperclay-sync.exe (command line) and
# hyperclay-sync-tray.exe (the tray app; defaults to https://hyperclay.com), then
# HyperclaySyncSetup-<version>.exe in target\windows\ with Inno Setup 6.
#   powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1
# Needs Rust (x86_64-pc-windows-msvc) and Inno Setup 6 (winget install JRSoftware.InnoSetup).
# Signing is optional: set HYPERCLAY_SIGN_CERT_SHA1 to the thumbprint of a code-signing
# certificate in the user's store, and signtool.exe (Windows SDK) signs both .exe and the setup.
# It must never bake a server URL of its own: HYPERCLAY_URL is removed for the build, the URL
# comes from .env / .env.example through build.rs.
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")

Remove-Item Env:HYPERCLAY_URL -ErrorAction SilentlyContinue
$env:CARGO_TERM_COLOR = "never"

cargo build --release --locked -p hyperclay-sync --bin hyperclay-sync --bin hyperclay-sync-tray
if ($LASTEXITCODE -ne 0) { throw "cargo build failed" }
# `cargo pkgid` ends in "#VERSION" or "#NAME@VERSION".
$version = ((cargo pkgid -p hyperclay-sync) -split '[#@]')[-1]
if ($LASTEXITCODE -ne 0 -or -not $version) { throw "cannot read the crate version" }
$exes = @("target\release\hyperclay-sync.exe", "target\release\hyperclay-sync-tray.exe")

function Find-Tool([string]$name, [string[]]$candidates) {
    $cmd = Get-Command $name -ErrorAction SilentlyContinue
    if ($cmd) { return $cmd.Source }
    foreach ($c in $candidates) {
        $hit = Get-ChildItem -Path $c -ErrorAction SilentlyContinue | Sort-Object FullName -Descending | Select-Object -First 1
        if ($hit) { return $hit.FullName }
    }
    return $null
}

$thumb = $env:HYPERCLAY_SIGN_CERT_SHA1
$signtool = $null
if ($thumb) {
    $signtool = Find-Tool "signtool.exe" @("${env:ProgramFiles(x86)}\Windows Kits\10\bin\*\x64\signtool.exe")
    if (-not $signtool) { throw "HYPERCLAY_SIGN_CERT_SHA1 is set but signtool.exe was not found (install the Windows SDK)" }
}
function Sign([string]$file) {
    if (-not $thumb) { return }
    & $signtool sign /sha1 $thumb /fd sha256 /tr http://timestamp.digicert.com /td sha256 /d "Hyperclay Sync" $file
    if ($LASTEXITCODE -ne 0) { throw "signing $file failed" }
}

foreach ($exe in $exes) { Sign $exe }

$iscc = Find-Tool "ISCC.exe" @(
    "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe",
    "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
    "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe")
if (-not $iscc) { throw "Inno Setup 6 not found: winget install JRSoftware.InnoSetup" }

& $iscc "/DAppVersion=$version" "/DSourceDir=$((Resolve-Path "target\release").Path)" "installer\windows\hyperclay-sync.iss"
if ($LASTEXITCODE -ne 0) { throw "ISCC failed" }

$setup = "target\windows\HyperclaySyncSetup-$version.exe"
Sign $setup
Write-Host "build.ps1: $setup"
