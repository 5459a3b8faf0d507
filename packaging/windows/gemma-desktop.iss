; Inno Setup 6 script: the Windows installer for Gemma Desktop.
;
;   iscc /DAppVersion=0.1.0 /DVariant=cpu /DSourceDir=..\..\build\windows-cpu\dist\gemma-desktop ^
;        /DOutputDir=..\..\dist packaging\windows\gemma-desktop.iss
;
; SourceDir is the PyInstaller one-folder app (packaging\windows\build.ps1 makes it). It already
; holds the Visual C++ runtime and the OpenMP runtime llama.cpp was built against
; (msvcp140.dll, vcruntime140.dll, vcruntime140_1.dll, vcomp140.dll), copied beside
; gemma-desktop.exe: Microsoft's "app-local" deployment, so no separate VC++ redistributable
; install and no administrator rights are needed. The CUDA variant also carries cudart and
; cuBLAS; it needs an NVIDIA driver for CUDA 12 and falls back to the CPU without one.
;
; Installs per user by default (no UAC prompt); "Install for all users" is offered in the
; dialog. Conversations and models live in the user's AppData and survive an uninstall.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef Variant
  #define Variant "cpu"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\build\windows-" + Variant + "\dist\gemma-desktop"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#define AppName "Gemma Desktop"
#define AppExe "gemma-desktop.exe"

[Setup]
; A fixed AppId keeps upgrades in place; the CUDA variant replaces the CPU one and vice versa.
AppId={{5B0E6C1A-3F5D-4C8E-9A57-6E2D8C4B1F10}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Gemma Desktop contributors
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
; x64compatible (Inno Setup 6.3+) also lets the x64 app install on Windows 11 on Arm, which runs
; it emulated; older compilers (make package-check lists the setup with innoextract 1.9, which
; reads Inno Setup <= 6.2 output) know only x64.
#if Ver >= EncodeVer(6, 3, 0)
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
#else
ArchitecturesAllowed=x64
ArchitecturesInstallIn64BitMode=x64
#endif
MinVersion=10.0.17763
OutputDir={#OutputDir}
OutputBaseFilename=Gemma-Desktop-{#AppVersion}-windows-x64-{#Variant}-setup
SetupIconFile=..\..\resources\gemma-desktop.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
LZMAUseSeparateProcess=yes
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade must not keep CPU-variant or CUDA modules of an older build beside the new ones:
; ggml loads every ggml-*.dll it finds in the program folder.
Type: files; Name: "{app}\ggml-*.dll"
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
