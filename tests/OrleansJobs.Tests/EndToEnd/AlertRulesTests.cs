using System.Diagnostics;
using System.Text.RegularExpressions;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>
/// The suggested alert rules (<c>deploy/prometheus/orleansjobs.rules.yml</c>) under Prometheus' own
/// tool: they parse, each fires on the series that should fire it and stays silent otherwise, and
/// they name only metrics the system serves (as <c>docs/operations.md</c> lists them).
/// </summary>
public sealed partial class AlertRulesTests
{
    private static readonly string Folder = Path.Combine(Repository.Root, "deploy", "prometheus");

    [Fact]
    public async Task Rules_PassPromtoolsCheck_AndTheirUnitTests()
    {
        var check = await PromtoolAsync(null, "check", "rules", "orleansjobs.rules.yml");
        Assert.True(check.ExitCode == 0, check.Output);
        var test = await PromtoolAsync(null, "test", "rules", "orleansjobs.rules.test.yml");
        Assert.True(test.ExitCode == 0, test.Output);
        Assert.Contains("SUCCESS", test.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rules_NameOnlyMetricsTheOperationsGuideLists_AndEveryAlertHasATest()
    {
        var rules = await File.ReadAllTextAsync(Path.Combine(Folder, "orleansjobs.rules.yml"));
        var tests = await File.ReadAllTextAsync(Path.Combine(Folder, "orleansjobs.rules.test.yml"));
        var guide = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "docs", "operations.md"));
        var used = MetricName().Matches(rules).Select(m => Suffix().Replace(m.Value, "")).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(used);
        foreach (var metric in used)
        {
            Assert.True(guide.Contains($"`{metric}", StringComparison.Ordinal), $"{metric} is not in docs/operations.md");
        }

        foreach (var alert in AlertName().Matches(rules).Select(m => m.Groups[1].Value))
        {
            Assert.True(tests.Contains($"alertname: {alert}", StringComparison.Ordinal), $"{alert} has no promtool test");
        }
    }

    /// <summary>Runs promtool (from <c>ORLEANSJOBS_PROMTOOL</c>, which deploy/test.sh sets, or the PATH) in the rules' folder.</summary>
    internal static async Task<(int ExitCode, string Output)> PromtoolAsync(string? input, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("ORLEANSJOBS_PROMTOOL") is { Length: > 0 } tool ? tool : "promtool")
        {
            WorkingDirectory = Folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }

        process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(deadline.Token);
        return (process.ExitCode, await output + await error);
    }

    [GeneratedRegex(@"\borleansjobs_[a-z_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex("_(total|bucket|count|sum)$")]
    private static partial Regex Suffix();

    [GeneratedRegex(@"- alert: (\w+)")]
    private static partial Regex AlertName();
}
