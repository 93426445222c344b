; The Windows installer of Hyperclay Sync (NSIS 3, 64-bit Unicode stub): one definition, built by
; installer/windows/build.sh on Linux (makensis from Debian's nsis) and by desktop.yml on a
; Windows runner (makensis from the NSIS install there). Pass the version and the folder with the
; two release programs:
;   makensis -DVERSION=0.1.0 -DBINDIR=/abs/path/to/release -DOUTFILE=/abs/setup.exe hyperclay-sync.nsi
; Per user, no administrator prompt: %LOCALAPPDATA%\Programs\Hyperclay Sync, the user's own Start
; menu, the uninstaller in Settings → Apps (HKCU). `setup.exe /S` installs silently,
; `uninstall.exe /S` removes silently. `setup.exe /S /RELAUNCH` is the app's own self-update (Update…
; in the tray, `hyperclay-sync update`): it gives the running copy a moment to exit by itself,
; installs, then starts the tray again.
; It must never make the app start at login: the app's own "Start at login" menu item does that
; (the uninstaller removes that entry, so Windows does not try to start a deleted program).
; The uninstaller removes only what the installer put there: the user's sync folder
; (%USERPROFILE%\Hyperclay by default), its backups (sites-versions\ inside it) and the app's data
; (%APPDATA%\Hyperclay\Hyperclay Sync: settings, state, log, token) all stay, so a reinstall
; carries on where it left off.

Unicode true
Target amd64-unicode
ManifestDPIAware true
RequestExecutionLevel user

!ifndef VERSION
  !error "pass -DVERSION=x.y.z (the crate version; build.sh does)"
!endif
!ifndef BINDIR
  !error "pass -DBINDIR=<folder with hyperclay-sync.exe and hyperclay-sync-tray.exe>"
!endif
!ifndef OUTFILE
  !define OUTFILE "hyperclay-sync-setup.exe"
!endif

!define APPNAME "Hyperclay Sync"
!define CLIEXE "hyperclay-sync.exe"
!define TRAYEXE "hyperclay-sync-tray.exe"
; The Apps entry: never rename it, or an upgrade leaves the old entry behind.
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\HyperclaySync"
!define RUNKEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define APPROVEDKEY "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
; The value name the app's "Start at login" writes (src/tray/autostart.rs, NAME).
!define AUTOSTARTNAME "hyperclay-sync"

Name "${APPNAME}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${APPNAME}"
InstallDirRegKey HKCU "${UNINSTKEY}" "InstallLocation"
SetCompressor /SOLID lzma
Icon "hyperclay-sync.ico"
UninstallIcon "hyperclay-sync.ico"
BrandingText "${APPNAME} ${VERSION}"

; The setup's own file properties (Properties → Details).
VIProductVersion "${VERSION}.0"
VIFileVersion "${VERSION}.0"
VIAddVersionKey /LANG=1033 "ProductName" "${APPNAME}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileDescription" "${APPNAME} setup"
VIAddVersionKey /LANG=1033 "CompanyName" "Hyperclay"
VIAddVersionKey /LANG=1033 "LegalCopyright" "MIT license"

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!define MUI_ICON "hyperclay-sync.ico"
!define MUI_UNICON "hyperclay-sync.ico"
!define MUI_FINISHPAGE_RUN "$INSTDIR\${TRAYEXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APPNAME}"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; A running copy holds its .exe open, so an upgrade or an uninstall could not replace or remove
; it: both programs are stopped first (the engine is crash-safe: an interrupted sync resumes at
; the next start). taskkill's exit code is ignored on purpose: "no such process" is the usual case.
!macro StopRunningCopies
  nsExec::Exec '"$SYSDIR\taskkill.exe" /F /IM ${TRAYEXE}'
  Pop $0
  nsExec::Exec '"$SYSDIR\taskkill.exe" /F /IM ${CLIEXE}'
  Pop $0
  Sleep 500
!macroend

Section "Install"
  SetShellVarContext current
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/RELAUNCH" $R1
  ${IfNot} ${Errors}
    StrCpy $R9 "relaunch"
    ; The app that started this update exits right after; let it finish on its own.
    Sleep 3000
  ${EndIf}
  !insertmacro StopRunningCopies
  SetOutPath "$INSTDIR"
  SetOverwrite on
  File "${BINDIR}\${CLIEXE}"
  File "${BINDIR}\${TRAYEXE}"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${APPNAME}.lnk" "$INSTDIR\${TRAYEXE}" "" "$INSTDIR\${TRAYEXE}" 0 SW_SHOWNORMAL "" "Keep a folder in live two-way sync with your Hyperclay account"

  WriteRegStr HKCU "${UNINSTKEY}" "DisplayName" "${APPNAME}"
  WriteRegStr HKCU "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTKEY}" "Publisher" "Hyperclay"
  WriteRegStr HKCU "${UNINSTKEY}" "URLInfoAbout" "https://hyperclay.com"
  WriteRegStr HKCU "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\${TRAYEXE},0"
  WriteRegStr HKCU "${UNINSTKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTKEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTKEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTKEY}" "NoRepair" 1
  ${If} $R9 == "relaunch"
    Exec '"$INSTDIR\${TRAYEXE}"'
  ${EndIf}
SectionEnd

Section "Uninstall"
  SetShellVarContext current
  !insertmacro StopRunningCopies
  Delete "$INSTDIR\${CLIEXE}"
  Delete "$INSTDIR\${TRAYEXE}"
  Delete "$INSTDIR\uninstall.exe"
  ; Not /r: only an empty folder goes, so nothing a user put there is lost.
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${APPNAME}.lnk"
  DeleteRegKey HKCU "${UNINSTKEY}"
  DeleteRegValue HKCU "${RUNKEY}" "${AUTOSTARTNAME}"
  DeleteRegValue HKCU "${APPROVEDKEY}" "${AUTOSTARTNAME}"
SectionEnd
