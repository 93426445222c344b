; Inno Setup 6 script for Hyperclay Sync: a per-user install (no administrator prompt) into
; %LOCALAPPDATA%\Programs\Hyperclay Sync, a Start menu entry, and an uninstaller in Apps.
; It must never make the app start at login: the app's own "Start at login" menu item does that
; (and the uninstaller removes that entry, so Windows does not try to start a deleted program).
; Built by build.ps1, which passes /DAppVersion=<crate version>; compiling it by hand works too.
; Two programs: hyperclay-sync-tray.exe, the tray app (no console window), which the Start menu
; entry, the "start it now" box and the app's own "Start at login" start; and hyperclay-sync.exe,
; the command line (run --headless, login, status…), which keeps its console.

#define AppName "Hyperclay Sync"
#define CliExe "hyperclay-sync.exe"
#define TrayExe "hyperclay-sync-tray.exe"
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\target\release"
#endif

[Setup]
; The AppId ties upgrades and the uninstaller to this product: never change it.
AppId={{8F881C75-DF1E-463E-8BDE-5346EC8E7F15}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Hyperclay
AppPublisherURL=https://hyperclay.com
AppSupportURL=https://hyperclay.com
VersionInfoVersion={#AppVersion}
; Per user: with lowest privileges {autopf} is %LOCALAPPDATA%\Programs and {autoprograms} the
; user's own Start menu; no dialog offers to install for all users instead.
PrivilegesRequired=lowest
DefaultDirName={autopf}\{#AppName}
DisableProgramGroupPage=yes
DisableDirPage=auto
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
; Upgrades and uninstalls close a running copy through the Restart Manager instead of failing
; on a locked .exe.
CloseApplications=force
RestartApplications=no
SetupIconFile=hyperclay-sync.ico
UninstallDisplayIcon={app}\hyperclay-sync.ico
UninstallDisplayName={#AppName}
OutputDir=..\..\target\windows
OutputBaseFilename=HyperclaySyncSetup-{#AppVersion}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Files]
Source: "{#SourceDir}\{#CliExe}"; DestDir: "{app}"; DestName: "{#CliExe}"; Flags: ignoreversion
Source: "{#SourceDir}\{#TrayExe}"; DestDir: "{app}"; DestName: "{#TrayExe}"; Flags: ignoreversion
Source: "hyperclay-sync.ico"; DestDir: "{app}"; Flags: ignoreversion

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#TrayExe}"; IconFilename: "{app}\hyperclay-sync.ico"; Comment: "Keep a folder in live two-way sync with your Hyperclay account"

[Run]
Filename: "{app}\{#TrayExe}"; Description: "Start {#AppName}"; Flags: nowait postinstall skipifsilent

[Code]
const
  RunKey = 'Software\Microsoft\Windows\CurrentVersion\Run';
  ApprovedKey = 'Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run';
  // The value name the app's "Start at login" writes (src/tray/autostart.rs).
  AutostartName = 'hyperclay-sync';

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
  begin
    // Only the start-at-login entry goes: settings, log and the keyring token stay, as the
    // README's Uninstall section says, so a reinstall carries on where it left off.
    RegDeleteValue(HKEY_CURRENT_USER, RunKey, AutostartName);
    RegDeleteValue(HKEY_CURRENT_USER, ApprovedKey, AutostartName);
  end;
end;
