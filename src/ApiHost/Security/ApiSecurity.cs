using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace OrleansJobs.ApiHost.Security;

/// <summary>Wires API keys and roles into the host: every endpoint needs a key, except liveness.</summary>
public static class ApiSecurity
{
    public static IServiceCollection AddApiSecurity(this IServiceCollection services)
    {
        services.AddOptions<AuthOptions>()
            .BindConfiguration(AuthOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidation>();
        services.AddSingleton<ApiKeyStore>();
        services.AddSingleton<ApiKeyRing>();
        services.AddHostedService(sp => sp.GetRequiredService<ApiKeyRing>());
        services.AddMemoryCache(o => o.SizeLimit = 100_000);
        services.AddSingleton<WorkerScope>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorization(o =>
        {
            foreach (var role in ApiRoles.All)
            {
                o.AddPolicy(ApiRoles.Policy(role), p => p.RequireAuthenticatedUser().RequireRole(ApiRoles.Satisfying(role)));
            }

            o.AddPolicy(ApiRoles.OperatorOrWorkerPolicy, p => p.RequireAuthenticatedUser()
                .RequireRole([.. ApiRoles.Satisfying(ApiRoles.Operator), ApiRoles.Worker]));
            // An endpoint mapped without a rule is an admin's: a new endpoint is never open by mistake.
            o.FallbackPolicy = o.GetPolicy(ApiRoles.Policy(ApiRoles.Admin));
        });
        return services;
    }
}
