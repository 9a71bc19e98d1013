using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace OrleansJobs.ApiHost.Security;

/// <summary>API keys and how the hosts learn of changes (configuration section <c>Auth</c>).</summary>
public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary>
    /// Keys from configuration, for bootstrapping (the first admin key) and for keys an operator
    /// manages outside the API. They cannot be revoked over the API: remove them here.
    /// </summary>
    public List<ConfiguredApiKey> Keys { get; set; } = [];

    /// <summary>How often each host looks for created and revoked keys: a revocation takes effect on every host within this.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Least time between two extra reads for a key this host does not know (one made on another host a moment ago).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan UnknownKeyRefreshInterval { get; set; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>A key from configuration: <c>Key</c> (the key itself) or <c>Sha256</c> (its hash, 64 hex digits), never both.</summary>
public sealed class ConfiguredApiKey
{
    public string? Name { get; set; }

    public string? Key { get; set; }

    public string? Sha256 { get; set; }

    public List<string> Roles { get; set; } = [];

    public List<string> JobTypes { get; set; } = [];

    public List<string> Devices { get; set; } = [];
}

/// <summary>Refuses to start with a configured key that is not usable, naming it.</summary>
public sealed class AuthOptionsValidation : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var failures = new List<string>();
        for (var i = 0; i < options.Keys.Count; i++)
        {
            var key = options.Keys[i];
            var at = $"Auth:Keys:{i}";
            if (string.IsNullOrWhiteSpace(key.Name) || key.Name.Length > ApiKeySecrets.MaxNameLength || key.Name.Any(char.IsControl))
            {
                failures.Add($"{at}:Name must be 1 to {ApiKeySecrets.MaxNameLength} characters, without control characters");
            }

            if ((key.Key is null) == (key.Sha256 is null))
            {
                failures.Add($"{at}: set Key or Sha256 (one of them)");
            }
            else if (key.Key is { } plain && plain.Length < 32)
            {
                failures.Add($"{at}:Key must be at least 32 characters");
            }
            else if (key.Sha256 is not null && ApiKeySecrets.ParseHash(key.Sha256) is null)
            {
                failures.Add($"{at}:Sha256 must be 64 hexadecimal digits");
            }

            failures.AddRange(ApiKeyRules.Check(key.Roles, key.JobTypes, key.Devices).Select(e => $"{at}:{e.Key}: {e.Value[0]}"));
        }

        var names = options.Keys.Where(k => k.Name is not null).GroupBy(k => k.Name, StringComparer.Ordinal).Where(g => g.Count() > 1);
        failures.AddRange(names.Select(g => $"Auth:Keys: the name '{g.Key}' is used twice"));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>What a key may carry, for configured keys and keys made over the API alike.</summary>
public static class ApiKeyRules
{
    public const int MaxScopeEntries = 100;

    /// <summary>Errors by field (<c>roles</c>, <c>jobTypes</c>, <c>devices</c>); empty when the key is valid.</summary>
    public static Dictionary<string, string[]> Check(IReadOnlyCollection<string>? roles, IReadOnlyCollection<string>? jobTypes, IReadOnlyCollection<string>? devices)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (roles is not { Count: > 0 })
        {
            errors["roles"] = [$"A key needs at least one role: {string.Join(", ", ApiRoles.All)}"];
        }
        else if (roles.FirstOrDefault(r => !ApiRoles.All.Contains(r, StringComparer.Ordinal)) is { } unknown)
        {
            errors["roles"] = [$"'{unknown}' is not a role; roles are {string.Join(", ", ApiRoles.All)}"];
        }
        else if (roles.Distinct(StringComparer.Ordinal).Count() != roles.Count)
        {
            errors["roles"] = ["A role is named twice"];
        }

        var worker = roles?.Contains(ApiRoles.Worker, StringComparer.Ordinal) == true;
        CheckScope(errors, "jobTypes", jobTypes, worker);
        CheckScope(errors, "devices", devices, worker);
        if (worker && jobTypes is not { Count: > 0 } && devices is not { Count: > 0 } && !errors.ContainsKey("jobTypes"))
        {
            errors["jobTypes"] = ["A worker key names the job types or the devices (or both) it may work on"];
        }

        return errors;
    }

    private static void CheckScope(Dictionary<string, string[]> errors, string field, IReadOnlyCollection<string>? values, bool worker)
    {
        if (values is not { Count: > 0 })
        {
            return;
        }

        if (!worker)
        {
            errors[field] = [$"Only a key with the worker role has {field}"];
        }
        else if (values.Count > MaxScopeEntries)
        {
            errors[field] = [$"At most {MaxScopeEntries} entries"];
        }
        else if (values.Any(v => string.IsNullOrWhiteSpace(v) || v.Length > 200))
        {
            errors[field] = ["Each entry is 1 to 200 characters"];
        }
    }
}
