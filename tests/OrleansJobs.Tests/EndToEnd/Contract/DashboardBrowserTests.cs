namespace OrleansJobs.Tests.EndToEnd.Contract;

/// <summary>
/// The dashboard behind the admin role, in a real browser (Debian's Chromium, driven by
/// playwright-core from tests/openapi-tools): challenged without a key, refused with a reader's,
/// and with the admin key as the Basic password its page and every request its script makes succeed.
/// </summary>
[Collection(ContractCollection.Name)]
public sealed class DashboardBrowserTests(ContractFixture fixture)
{
    [Fact]
    public async Task Browser_IsChallenged_ReaderIsRefused_AndTheAdminsDashboardWorks()
    {
        var tools = await NodeTools.InstallAsync();
        var reader = await fixture.CreateKeyAsync($"dashboard reader {Guid.NewGuid():N}", ["reader"]);
        var run = await NodeTools.RunAsync(tools, TimeSpan.FromMinutes(2), "node", "browser/dashboard.mjs",
            fixture.Http.BaseAddress!.ToString().TrimEnd('/'), fixture.Api.AdminKey, reader);
        Assert.True(run.ExitCode == 0, $"the browser run failed:\n{run.Output}");
        Assert.Contains("active silo counted", run.Output, StringComparison.Ordinal);
    }
}
