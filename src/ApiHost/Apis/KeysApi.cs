using Microsoft.AspNetCore.Http.HttpResults;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>API keys: an admin makes, lists and revokes them.</summary>
public static class KeysApi
{
    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api/admin/keys").WithTags("Admin");
        keys.MapPost("/", Create)
            .WithName("CreateApiKey")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("Make an API key")
            .WithDescription("201 with the key: it is stored hashed and shown only in this answer. Every API host accepts it at once " +
                "(a host that has not seen it yet reads the keys again).");
        keys.MapGet("/", List)
            .WithName("ListApiKeys")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("List the API keys (never the keys themselves), revoked ones included");
        keys.MapGet("/{id}", Get)
            .WithName("GetApiKey")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("One API key (never the key itself)")
            .ProducesProblem(StatusCodes.Status404NotFound);
        keys.MapDelete("/{id}", Revoke)
            .WithName("RevokeApiKey")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("Revoke an API key")
            .WithDescription("204: every API host refuses the key within Auth:RefreshInterval (1 s by default); this host at once. " +
                "Revoking it again answers 204 and keeps the first revocation. A key from configuration cannot be revoked here (409): remove it from the settings.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    public static async Task<Results<Created<CreatedApiKeyResponse>, ValidationProblem>> Create(
        CreateApiKeyRequest request, HttpContext http, ApiKeyStore store, ApiKeyRing ring, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = ApiKeyRules.Check(request.Roles, request.JobTypes, request.Devices);
        var now = time.GetUtcNow();
        if (request.ExpiresAt is { } expires && expires <= now)
        {
            errors["expiresAt"] = ["must be in the future"];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: ApiProblems.InvalidTitle);
        }

        var secret = ApiKeySecrets.NewKey();
        var key = new ApiKey(ApiKeySecrets.NewId(), request.Name, [.. request.Roles], [.. request.JobTypes ?? []], [.. request.Devices ?? []],
            now, ApiActors.Of(http), request.ExpiresAt, null, null, ApiKey.FromApi, ApiKeySecrets.Hash(secret));
        await store.InsertAsync(key, cancellationToken);
        await ring.RefreshAsync(force: true, cancellationToken);
        return TypedResults.Created($"/api/admin/keys/{key.Id}", new CreatedApiKeyResponse(secret, ApiKeyResponse.From(key)));
    }

    public static async Task<Ok<ApiKeyList>> List(ApiKeyStore store, ApiKeyRing ring, CancellationToken cancellationToken)
    {
        var stored = await store.ReadAllAsync(cancellationToken);
        return TypedResults.Ok(new ApiKeyList([
            .. ring.ConfiguredKeys.OrderBy(k => k.Name, StringComparer.Ordinal).Select(ApiKeyResponse.From),
            .. stored.OrderByDescending(k => k.CreatedAt).ThenBy(k => k.Id, StringComparer.Ordinal).Select(ApiKeyResponse.From)]));
    }

    public static async Task<Results<Ok<ApiKeyResponse>, ProblemHttpResult>> Get([ApiKeyId] string id, ApiKeyStore store, ApiKeyRing ring, CancellationToken cancellationToken)
    {
        var key = ring.ConfiguredKeys.FirstOrDefault(k => k.Id == id) ?? await store.ReadAsync(id, cancellationToken);
        return key is null ? KeyNotFound(id) : TypedResults.Ok(ApiKeyResponse.From(key));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> Revoke(
        [ApiKeyId] string id, HttpContext http, ApiKeyStore store, ApiKeyRing ring, TimeProvider time, CancellationToken cancellationToken)
    {
        if (ring.ConfiguredKeys.Any(k => k.Id == id))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Configured key",
                detail: $"Key '{id}' comes from the Auth:Keys settings; remove it there. Nothing was changed.");
        }

        if (!await store.RevokeAsync(id, time.GetUtcNow(), ApiActors.Of(http), cancellationToken))
        {
            return KeyNotFound(id);
        }

        await ring.RefreshAsync(force: true, cancellationToken);
        return TypedResults.NoContent();
    }

    private static ProblemHttpResult KeyNotFound(string id) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound, title: "No such key", detail: $"There is no API key '{id}'.");
}

/// <summary>A key id in a route: <c>key-</c> and 16 hex digits, or <c>config:</c> and a name; anything else is a 400 naming <c>id</c>.</summary>
[AttributeUsage(AttributeTargets.Parameter | AttributeTargets.Property)]
public sealed class ApiKeyIdAttribute() : System.ComponentModel.DataAnnotations.ValidationAttribute(
    "must be a key id: key- and 16 lower-case hex digits, or config: and a configured key's name")
{
    public override bool IsValid(object? value) => ApiKeySecrets.IsWellFormedId(value as string);
}
