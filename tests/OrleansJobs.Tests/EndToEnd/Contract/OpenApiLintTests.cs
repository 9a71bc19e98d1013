using System.Text.Json;

namespace OrleansJobs.Tests.EndToEnd.Contract;

/// <summary>The served OpenAPI document passes Redocly's recommended rules.</summary>
[Collection(ContractCollection.Name)]
public sealed class OpenApiLintTests(ContractFixture fixture)
{
    /// <summary>Rules this API breaks on purpose, with why: none (security-defined holds: every operation but liveness names the API key).</summary>
    private static readonly HashSet<string> KnownErrors = [];

    /// <summary>
    /// info-license: the project has no license to name yet. operation-4xx-response: liveness takes
    /// no input and no key, so it has no 4xx (every other operation has 401 and 403).
    /// </summary>
    private static readonly HashSet<string> KnownWarnings = ["info-license", "operation-4xx-response"];

    [Fact]
    public async Task ServedDocument_HasNoLintErrors_ButTheKnownOnes()
    {
        var tools = await NodeTools.InstallAsync();
        var file = Path.Combine(tools, "openapi.json");
        await File.WriteAllTextAsync(file, await fixture.Http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));

        var (_, output) = await NodeTools.RunToolAsync(tools, TimeSpan.FromMinutes(2), "redocly",
            "lint", file, "--extends=recommended", "--format=json");

        var json = output[output.IndexOf('{', StringComparison.Ordinal)..(output.LastIndexOf('}') + 1)];
        var problems = JsonDocument.Parse(json).RootElement.GetProperty("problems").EnumerateArray()
            .Select(p => (Rule: p.GetProperty("ruleId").GetString()!, Severity: p.GetProperty("severity").GetString()!,
                Message: p.GetProperty("message").GetString()!, Where: string.Join(" ", p.GetProperty("location").EnumerateArray()
                    .Select(l => l.TryGetProperty("pointer", out var pointer) ? pointer.GetString() : ""))))
            .ToList();
        var unexpected = problems.Where(p => p.Severity == "error" ? !KnownErrors.Contains(p.Rule) : !KnownWarnings.Contains(p.Rule)).ToList();
        Assert.True(unexpected.Count == 0, "Redocly found:\n" + string.Join("\n", unexpected.Select(p => $"{p.Severity} {p.Rule} {p.Where}: {p.Message}")));
        Assert.Contains(problems, p => p.Rule == "operation-4xx-response" && p.Where.Contains("~1health/get", StringComparison.Ordinal)); // the lint ran and saw the operations
        Assert.DoesNotContain(problems, p => p.Rule == "security-defined");
    }
}
