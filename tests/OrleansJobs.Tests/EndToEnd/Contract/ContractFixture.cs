using System.Net.Http.Json;
using System.Text.Json;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.EndToEnd.Contract;

/// <summary>
/// One silo and the API host for the tests of the HTTP contract (the OpenAPI document, a client
/// generated from it, fuzzing), which share it one class at a time through <see cref="ContractCollection"/>.
/// </summary>
public sealed class ContractFixture() : ApiSystemFixture("contract", new Dictionary<string, string>
{
    // A type whose runs count as stalled after 1 s; the watchdog (every minute) leaves them running meanwhile.
    ["ExternalJobTypes__ext-stalling__StallTimeout"] = "00:00:01",
});

[RunsFor(95)]
[CollectionDefinition(Name)]
public sealed class ContractCollection : ICollectionFixture<ContractFixture>
{
    public const string Name = "HTTP contract";
}

/// <summary>The served OpenAPI document.</summary>
public static class OpenApiDocument
{
    public static async Task<JsonElement> GetAsync(HttpClient http) =>
        await http.GetFromJsonAsync<JsonElement>(new Uri("/openapi/v1.json", UriKind.Relative));

    /// <summary>Every operation: (operationId, method, path template, the operation object).</summary>
    public static IEnumerable<(string Id, string Method, string Path, JsonElement Operation)> Operations(JsonElement document)
    {
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                yield return (operation.Value.GetProperty("operationId").GetString()!, operation.Name.ToUpperInvariant(), path.Name, operation.Value);
            }
        }
    }
}
