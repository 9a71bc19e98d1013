namespace OrleansJobs.Tests.EndToEnd.Contract;

/// <summary>
/// A TypeScript client generated from the served document (openapi-typescript + openapi-fetch),
/// type-checked strictly and run against the API: the document is good enough to use untouched.
/// </summary>
[Collection(ContractCollection.Name)]
public sealed class GeneratedClientTests(ContractFixture fixture)
{
    [Fact]
    public async Task ClientGeneratedFromTheDocument_SubmitsListsControlsAndReadsTheJournal_WithoutCasts()
    {
        var tools = await NodeTools.InstallAsync();
        var document = Path.Combine(tools, "openapi.json");
        await File.WriteAllTextAsync(document, await fixture.Http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));

        var generate = await NodeTools.RunToolAsync(tools, TimeSpan.FromMinutes(2), "openapi-typescript", document, "-o", "generated/api.d.ts");
        Assert.True(generate.ExitCode == 0, $"openapi-typescript failed:\n{generate.Output}");
        var compile = await NodeTools.RunToolAsync(tools, TimeSpan.FromMinutes(2), "tsc", "-p", "tsconfig.json");
        Assert.True(compile.ExitCode == 0, $"the client (client/flow.ts, strict) does not type-check against the document:\n{compile.Output}");
        var run = await NodeTools.RunAsync(tools, TimeSpan.FromMinutes(2), "node", "out/client/flow.js", fixture.Http.BaseAddress!.ToString().TrimEnd('/'),
            fixture.Http.DefaultRequestHeaders.Authorization!.Parameter!);
        Assert.True(run.ExitCode == 0, $"the generated client's flow failed:\n{run.Output}");
        Assert.Contains("generated client: ok", run.Output, StringComparison.Ordinal);
    }
}
