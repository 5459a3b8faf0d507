# Windows: the PyInstaller one-folder app and its Inno Setup installer.
#
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1 [-Variant cpu|cuda]
#
# Needs: Python 3.11 (x64), Visual Studio 2022 Build Tools with "Desktop development with C++"
# (MSVC, its OpenMP runtime and CMake), Git for Windows (bash runs packaging\build-llama-wheel.sh),
# Inno Setup 6 (iscc.exe), and for -Variant cuda the CUDA 12 toolkit (CUDA_PATH set; the
# redistributable archives CI unpacks are enough). Run it from any PowerShell: without a VS
# developer environment it loads one (llama.cpp is built with Ninja, which needs cl.exe on PATH).
param(
    [ValidateSet("cpu", "cuda")] [string] $Variant = "cpu",
    [string] $Python = "python",
    # A llama-cpp-python wheel built already (CI builds it in a bash step); else it is built here.
    [string] $Wheel = ""
)
$ErrorActionPreference = "Stop"
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
Set-Location $Root
$Version = (Select-String -Path desktop_app\__init__.py -Pattern '__version__ = "(.*)"').Matches[0].Groups[1].Value
$Work = "$Root\build\windows-$Variant"
$Venv = "$Root\build\package-venv-$Variant"

# Run a program and stop on failure. No param block: every argument, "-m" included, lands in
# $args untouched instead of being taken for a PowerShell parameter.
function Run {
    $exe, $rest = $args
    & $exe @rest
    if ($LASTEXITCODE -ne 0) { throw "$exe failed with exit code $LASTEXITCODE" }
}

# MSVC's environment for Ninja (CI already has it from ilammy/msvc-dev-cmd).
if (-not (Get-Command cl.exe -ErrorAction SilentlyContinue)) {
    $VsWhere = "${env:ProgramFiles(x86)}\Microsoft Visual Studio\Installer\vswhere.exe"
    $Vs = & $VsWhere -latest -products * -requires Microsoft.VisualStudio.Component.VC.Tools.x86.x64 -property installationPath
    if (-not $Vs) { throw "Visual Studio with the C++ tools (Microsoft.VisualStudio.Component.VC.Tools.x86.x64) is not installed" }
    cmd /c "`"$Vs\VC\Auxiliary\Build\vcvars64.bat`" >nul && set" | ForEach-Object {
        if ($_ -match '^([^=]+)=(.*)$') { Set-Item -Path "env:$($Matches[1])" -Value $Matches[2] }
    }
}

# 1. Build venv and llama-cpp-python for the variant (portable CPU variants; + CUDA).
if (-not (Test-Path "$Venv\Scripts\python.exe")) { Run $Python -m venv $Venv }
$VenvPy = "$Venv\Scripts\python.exe"
Run $VenvPy -m pip install -q --upgrade pip wheel
if (-not $Wheel) {
    # Git for Windows' bash, not WSL's bash.exe from System32.
    $Bash = "$env:ProgramFiles\Git\bin\bash.exe"
    if (-not (Test-Path $Bash)) { $Bash = "bash" }
    $Wheel = (& $Bash packaging/build-llama-wheel.sh $Variant ($VenvPy -replace '\\', '/') | Select-Object -Last 1)
    if ($LASTEXITCODE -ne 0) { throw "building llama-cpp-python failed" }
}
Run $VenvPy -m pip install -q --force-reinstall --no-deps $Wheel
Run $VenvPy -m pip install -q $Wheel $Root "pyinstaller>=6.10"

# 2. Runtime DLLs that go beside gemma-desktop.exe (see gemma-desktop.iss): the VC++ runtime and
#    OpenMP from Visual Studio's redistributable folder, cudart and cuBLAS for CUDA.
if ($env:VCToolsRedistDir) {
    $RedistDir = $env:VCToolsRedistDir          # set by a VS developer shell (CI: msvc-dev-cmd)
} else {
    $VsWhere = "${env:ProgramFiles(x86)}\Microsoft Visual Studio\Installer\vswhere.exe"
    $Vs = & $VsWhere -latest -products * -requires Microsoft.VisualStudio.Component.VC.Tools.x86.x64 -property installationPath
    $RedistDir = (Get-ChildItem "$Vs\VC\Redist\MSVC" -Directory | Where-Object { $_.Name -match '^\d' } |
        Sort-Object { [version]$_.Name } | Select-Object -Last 1).FullName
}
$Crt = Get-ChildItem "$RedistDir\x64" -Directory -Filter "Microsoft.VC*.CRT" | Select-Object -First 1
$Omp = Get-ChildItem "$RedistDir\x64" -Directory -Filter "Microsoft.VC*.OpenMP" | Select-Object -First 1
if (-not $Crt -or -not $Omp) { throw "no VC++ CRT/OpenMP redistributable under $RedistDir\x64" }
$Extra = @("$($Crt.FullName)\msvcp140*.dll", "$($Crt.FullName)\vcruntime140*.dll",
           "$($Crt.FullName)\concrt140.dll", "$($Omp.FullName)\vcomp140.dll")
if ($Variant -eq "cuda") {
    $Extra += @("$env:CUDA_PATH\bin\cudart64_*.dll", "$env:CUDA_PATH\bin\cublas64_*.dll",
                "$env:CUDA_PATH\bin\cublasLt64_*.dll")
}
$env:GEMMA_EXTRA_RUNTIME = $Extra -join ";"

# 3. Freeze.
if (Test-Path $Work) { Remove-Item -Recurse -Force $Work }
Run $VenvPy -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$Work\dist" `
    --workpath "$Work\work" packaging\gemma-desktop.spec
$App = "$Work\dist\gemma-desktop"
foreach ($dll in @("vcomp140.dll", "msvcp140.dll")) {
    if (-not (Test-Path "$App\$dll")) { throw "$dll is missing beside gemma-desktop.exe" }
}
if (-not (Test-Path "$App\_internal\vcruntime140.dll")) { throw "vcruntime140.dll is missing beside python3*.dll" }
# Each runtime DLL once (packaging/bundle_layout.py): a DLL both beside the executable and at the
# top of _internal is a copy PyInstaller's dependency analysis made (cuBLASLt alone is ~530 MB).
$Twice = Get-ChildItem "$App\*.dll" | Where-Object { Test-Path "$App\_internal\$($_.Name)" }
if ($Twice) { throw "collected twice: $($Twice.Name -join ', ')" }

# 4. The self-test through the console twin of the GUI executable.
Run "$App\gemma-desktop-cli.exe" selftest

# 5. The installer.
$Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $Iscc) { $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
if (-not (Test-Path $Iscc)) { throw "Inno Setup 6 is not installed (winget install JRSoftware.InnoSetup, or choco install innosetup)" }
New-Item -ItemType Directory -Force "$Root\dist" | Out-Null
Run $Iscc "/DAppVersion=$Version" "/DVariant=$Variant" "/DSourceDir=$App" "/DOutputDir=$Root\dist" `
    packaging\windows\gemma-desktop.iss
Get-ChildItem "$Root\dist\Gemma-Desktop-$Version-windows-x64-$Variant-setup.exe"
