using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace OrleansJobs.Tests.EndToEnd.Contract;

/// <summary>
/// The pinned Node tools of <c>tests/openapi-tools</c> (Redocly CLI, openapi-typescript,
/// openapi-fetch, TypeScript), installed with <c>npm ci</c> from the committed lock file into the
/// test output once per lock file, so a fresh machine with node and npm gets the same versions.
/// </summary>
public static class NodeTools
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static string? _directory;

    /// <summary>A working copy of tests/openapi-tools with its packages installed.</summary>
    public static async Task<string> InstallAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_directory is not null)
            {
                return _directory;
            }

            var source = Path.Combine(Repository.Root, "tests", "openapi-tools");
            var target = Path.Combine(AppContext.BaseDirectory, "openapi-tools");
            CopyTree(source, target);
            var stamp = Path.Combine(target, "node_modules", ".lock-sha256");
            var lockHash = Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(source, "package-lock.json"))));
            if (!File.Exists(stamp) || await File.ReadAllTextAsync(stamp) != lockHash)
            {
                var install = await RunAsync(target, TimeSpan.FromMinutes(5), "npm", "ci", "--no-audit", "--no-fund");
                Assert.True(install.ExitCode == 0, $"npm ci failed in {target}:\n{install.Output}");
                await File.WriteAllTextAsync(stamp, lockHash);
            }

            return _directory = target;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Runs a program from the installed packages' bin folder (node_modules/.bin).</summary>
    public static Task<(int ExitCode, string Output)> RunToolAsync(string directory, TimeSpan timeout, string tool, params string[] args) =>
        RunAsync(directory, timeout, Path.Combine(directory, "node_modules", ".bin", tool), args);

    public static async Task<(int ExitCode, string Output)> RunAsync(string directory, TimeSpan timeout, string program, params string[] args)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // No telemetry or update checks: the tests reach nothing but the registry (npm ci) and loopback.
        start.Environment["REDOCLY_TELEMETRY"] = "off";
        start.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var output = new StringBuilder();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish within {timeout}");
        }

        output.Append(await stdout).Append(await stderr);
        return (process.ExitCode, output.ToString());
    }

    private static void CopyTree(string source, string target)
    {
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            if (relative.StartsWith("node_modules", StringComparison.Ordinal) || relative.StartsWith("generated", StringComparison.Ordinal)
                || relative.StartsWith("out", StringComparison.Ordinal))
            {
                continue;
            }

            var destination = Path.Combine(target, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination, overwrite: true);
        }
    }
}
