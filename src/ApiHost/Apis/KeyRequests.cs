using System.ComponentModel.DataAnnotations;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Body of <c>POST /api/admin/keys</c>.</summary>
/// <param name="Name">What the key is for, 1 to 200 characters (it names the key in the journal's actors and the logs).</param>
/// <param name="Roles">One or more of reader, operator, admin, worker.</param>
/// <param name="JobTypes">Worker keys only: the job types it may claim and report on.</param>
/// <param name="Devices">Worker keys only: the devices it may heartbeat, register, claim for and report on.</param>
/// <param name="ExpiresAt">When the key stops working; omitted: never. Must be in the future.</param>
public sealed record CreateApiKeyRequest(
    [property: Required(ErrorMessage = "is required"), StringLength(200, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string Name,
    [property: Required(ErrorMessage = "is required")]
    IReadOnlyList<string> Roles,
    IReadOnlyList<string>? JobTypes = null,
    IReadOnlyList<string>? Devices = null,
    DateTimeOffset? ExpiresAt = null);

/// <summary>A key as listed: never the key itself.</summary>
/// <param name="Id">Its public id (revoke it with <c>DELETE /api/admin/keys/{id}</c>).</param>
/// <param name="Name">What it is for.</param>
/// <param name="Roles">Its roles.</param>
/// <param name="JobTypes">The job types a worker key may work on.</param>
/// <param name="Devices">The devices a worker key may act for.</param>
/// <param name="Source"><c>api</c> (made over the API) or <c>configuration</c> (from the <c>Auth:Keys</c> settings; not revocable here).</param>
/// <param name="CreatedAt">When it was made (for a configured key: when this host started).</param>
/// <param name="CreatedBy">Who made it.</param>
/// <param name="ExpiresAt">When it stops working, if ever.</param>
/// <param name="RevokedAt">When it was revoked, if it was.</param>
/// <param name="RevokedBy">Who revoked it.</param>
public sealed record ApiKeyResponse(
    string Id, string Name, IReadOnlyList<string> Roles, IReadOnlyList<string> JobTypes, IReadOnlyList<string> Devices, string Source,
    DateTimeOffset CreatedAt, string CreatedBy, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt, string? RevokedBy)
{
    public static ApiKeyResponse From(ApiKey key) => new(
        key.Id, key.Name, key.Roles, key.JobTypes, key.Devices, key.Source, key.CreatedAt, key.CreatedBy, key.ExpiresAt, key.RevokedAt, key.RevokedBy);
}

/// <summary>A key just made: the only answer that carries the key itself.</summary>
/// <param name="Key">The key: send it as <c>Authorization: Bearer &lt;key&gt;</c>. It is stored hashed and never shown again.</param>
/// <param name="Details">The key as listings show it.</param>
public sealed record CreatedApiKeyResponse(string Key, ApiKeyResponse Details);

/// <summary>Every key, configured ones first, then the others newest first.</summary>
/// <param name="Keys">The keys.</param>
public sealed record ApiKeyList(IReadOnlyList<ApiKeyResponse> Keys);
