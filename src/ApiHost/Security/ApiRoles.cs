namespace OrleansJobs.ApiHost.Security;

/// <summary>
/// The roles an API key may carry, and the authorization policy of each. Roles nest where the work
/// does: an operator may read, an admin may do anything (a worker's work too, in any scope).
/// </summary>
public static class ApiRoles
{
    /// <summary>Reads: jobs, journals, libraries, devices, recovery status, the OpenAPI document, metrics, readiness.</summary>
    public const string Reader = "reader";

    /// <summary>Submits and controls jobs; creates, changes and deletes libraries and devices.</summary>
    public const string Operator = "operator";

    /// <summary>Recovery trigger, safeguards, emergency cleanup, export/import, purge, API keys, the dashboard; and all of the above.</summary>
    public const string Admin = "admin";

    /// <summary>Claims and reports on jobs, heartbeats devices: only the job types and devices its key names.</summary>
    public const string Worker = "worker";

    public static readonly IReadOnlyList<string> All = [Reader, Operator, Admin, Worker];

    /// <summary>The roles that satisfy a rule of <paramref name="role"/>.</summary>
    public static IReadOnlyList<string> Satisfying(string role) => role switch
    {
        Reader => [Reader, Operator, Admin],
        Operator => [Operator, Admin],
        Admin => [Admin],
        Worker => [Worker, Admin],
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "Not a role"),
    };

    /// <summary>The authorization policy that requires <paramref name="role"/> (or a role above it).</summary>
    public static string Policy(string role) => $"role:{role}";

    /// <summary>Device registration: an operator, or a worker whose key names the device (its agent registers it).</summary>
    public const string OperatorOrWorkerPolicy = "role:operator|worker";
}

/// <summary>The role an endpoint requires, as its metadata says (for the OpenAPI document and problem answers).</summary>
/// <param name="Role">The role (or, for device registration, <c>operator|worker</c>).</param>
public sealed record RequiredRole(string Role);

/// <summary>Declares the role each endpoint needs.</summary>
public static class RequiredRoleExtensions
{
    /// <summary>Requires an API key with <paramref name="role"/> (or a role above it).</summary>
    public static TBuilder RequireRole<TBuilder>(this TBuilder builder, string role)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(ApiRoles.Policy(role)).WithMetadata(new RequiredRole(role));

    /// <summary>Requires an operator key, or a worker key; the handler checks the worker's scope.</summary>
    public static TBuilder RequireOperatorOrWorker<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(ApiRoles.OperatorOrWorkerPolicy).WithMetadata(new RequiredRole($"{ApiRoles.Operator}|{ApiRoles.Worker}"));
}
