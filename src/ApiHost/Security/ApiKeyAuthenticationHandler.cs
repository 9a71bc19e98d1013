using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace OrleansJobs.ApiHost.Security;

/// <summary>
/// Authenticates a request by its API key: <c>Authorization: Bearer &lt;key&gt;</c>, <c>X-Api-Key: &lt;key&gt;</c>,
/// or, for browsers (the dashboard), <c>Authorization: Basic</c> with the key as the password.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyRing ring, IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string KeyHeader = "X-Api-Key";
    public const string KeyIdClaim = "orleansjobs:key_id";
    public const string KeyNameClaim = "orleansjobs:key_name";
    public const string JobTypeClaim = "orleansjobs:job_type";
    public const string DeviceClaim = "orleansjobs:device";

    /// <summary>Paths a browser opens: a 401 there asks the browser for the key (Basic), instead of only naming the header.</summary>
    public static readonly PathString DashboardPath = new("/dashboard");

    private const string FailureItem = "orleansjobs:auth_failure";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = Presented(Request);
        if (presented is null)
        {
            return AuthenticateResult.NoResult();
        }

        var (outcome, _, why, principal) = await ring.FindAsync(presented, Context.RequestAborted);
        if (outcome != KeyLookup.Valid)
        {
            Context.Items[FailureItem] = new Failure(outcome, why);
            return AuthenticateResult.Fail(why ?? outcome.ToString());
        }

        return AuthenticateResult.Success(new AuthenticationTicket(principal!, SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = Context.Items[FailureItem] as Failure;
        var (outcome, why, missing) = (failure?.Outcome ?? KeyLookup.Unknown, failure?.Why, failure is null);
        if (outcome == KeyLookup.KeysUnavailable)
        {
            Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            Response.Headers.RetryAfter = "1";
            await Write(StatusCodes.Status503ServiceUnavailable, "The API keys are unavailable",
                "The stored API keys could not be read yet (the database is unreachable); retry shortly.");
            return;
        }

        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = Request.Path.StartsWithSegments(DashboardPath)
            ? "Basic realm=\"OrleansJobs\", charset=\"UTF-8\""
            : missing ? "Bearer" : "Bearer error=\"invalid_token\"";
        await Write(StatusCodes.Status401Unauthorized,
            missing ? "An API key is required" : "The API key is not accepted",
            missing
                ? $"Send an API key as 'Authorization: Bearer <key>' or '{KeyHeader}: <key>'; nothing was changed."
                : $"{why ?? "The API key is not known"}; nothing was changed.");
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        var required = Context.GetEndpoint()?.Metadata.GetMetadata<RequiredRole>()?.Role ?? ApiRoles.Admin;
        var roles = string.Join(", ", Context.User.FindAll(ClaimTypes.Role).Select(c => c.Value));
        await Write(StatusCodes.Status403Forbidden, "The API key's roles do not allow this",
            $"This endpoint needs a key with the role {required.Replace("|", " or ", StringComparison.Ordinal)} " +
            $"(admin may do anything); this key has {roles}. Nothing was changed.");
    }

    /// <summary>The key the request presents; null when it presents none.</summary>
    public static string? Presented(HttpRequest request)
    {
        if (request.Headers.TryGetValue(KeyHeader, out var header) && header.Count > 0 && !string.IsNullOrEmpty(header[0]))
        {
            return header[0];
        }

        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization[7..].Trim() is { Length: > 0 } bearer ? bearer : null;
        }

        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
                var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                return colon >= 0 && colon < decoded.Length - 1 ? decoded[(colon + 1)..] : null;
            }
            catch (FormatException)
            {
                return null;
            }
        }

        return null;
    }

    private async Task Write(int status, string title, string detail) => await problems.TryWriteAsync(new ProblemDetailsContext
    {
        HttpContext = Context,
        ProblemDetails = { Status = status, Title = title, Detail = detail },
    });

    private sealed record Failure(KeyLookup Outcome, string? Why);
}
