using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansJobs.Jobs.Handlers;

/// <summary>One registered job type.</summary>
public sealed record JobTypeRegistration(string Name, Type HandlerType, JobTypeOptions Options)
{
    /// <summary>Run by external workers: the silo never starts a handler for it.</summary>
    public bool IsExternal => Options.External;
}

/// <summary>The job types a silo can run, by name (as submitted in <c>type</c>).</summary>
public sealed partial class JobHandlerRegistry(IEnumerable<JobTypeRegistration> registrations, IServiceProvider services)
{
    private readonly Dictionary<string, JobTypeRegistration> _types = BuildIndex(registrations);

    public IReadOnlyCollection<string> Names => _types.Keys;

    public bool TryGet(string name, out JobTypeRegistration registration) => _types.TryGetValue(name, out registration!);

    /// <summary>A new handler instance for one attempt (handlers may hold per-run state).</summary>
    public IJobHandler Create(JobTypeRegistration registration) =>
        (IJobHandler)ActivatorUtilities.CreateInstance(services, registration.HandlerType);

    /// <summary>Type names: lower-case letters, digits and dashes, starting with a letter, at most 64.</summary>
    public static bool IsValidName(string name) => NamePattern().IsMatch(name);

    private static Dictionary<string, JobTypeRegistration> BuildIndex(IEnumerable<JobTypeRegistration> registrations)
    {
        var index = new Dictionary<string, JobTypeRegistration>(StringComparer.Ordinal);
        foreach (var registration in registrations)
        {
            if (!index.TryAdd(registration.Name, registration))
            {
                throw new InvalidOperationException($"Job type '{registration.Name}' is registered twice");
            }
        }

        return index;
    }

    [GeneratedRegex("^[a-z][a-z0-9-]{0,63}$")]
    private static partial Regex NamePattern();
}

public static class JobHandlerServiceCollectionExtensions
{
    /// <summary>Registers <typeparamref name="THandler"/> as the handler of job type <paramref name="name"/>.</summary>
    public static IServiceCollection AddJobHandler<THandler>(this IServiceCollection services, string name, Action<JobTypeOptions>? configure = null)
        where THandler : class, IJobHandler
    {
        if (!JobHandlerRegistry.IsValidName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid job type name (lower-case letters, digits, dashes)", nameof(name));
        }

        var options = new JobTypeOptions();
        configure?.Invoke(options);
        options.External = false;
        services.AddSingleton(new JobTypeRegistration(name, typeof(THandler), options));
        services.TryAddSingleton<JobHandlerRegistry>();
        return services;
    }

    /// <summary>
    /// Registers job type <paramref name="name"/> as run by external workers: submitted like any
    /// job (its parameters must be a JSON object, the worker validates them), then claimed over HTTP.
    /// </summary>
    public static IServiceCollection AddExternalJobType(this IServiceCollection services, string name, Action<JobTypeOptions>? configure = null)
    {
        if (!JobHandlerRegistry.IsValidName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid job type name (lower-case letters, digits, dashes)", nameof(name));
        }

        var options = new JobTypeOptions();
        configure?.Invoke(options);
        options.External = true;
        if (options.MinLeaseDuration <= TimeSpan.Zero || options.MinLeaseDuration > options.MaxLeaseDuration
            || options.LeaseDuration < options.MinLeaseDuration || options.LeaseDuration > options.MaxLeaseDuration)
        {
            throw new ArgumentException(
                $"External job type '{name}': need 0 < MinLeaseDuration <= LeaseDuration <= MaxLeaseDuration " +
                $"(got {options.MinLeaseDuration}, {options.LeaseDuration}, {options.MaxLeaseDuration})", nameof(configure));
        }

        services.AddSingleton(new JobTypeRegistration(name, typeof(ExternalWorkerJob), options));
        services.TryAddSingleton<JobHandlerRegistry>();
        return services;
    }

    /// <summary>
    /// Registers job type <paramref name="name"/> as run on devices of <paramref name="kind"/> by their
    /// agents: each job names a device, owns it, and only that device's agent claims it.
    /// </summary>
    public static IServiceCollection AddDeviceJobType(this IServiceCollection services, string name, string kind, Action<JobTypeOptions>? configure = null)
    {
        if (!Devices.DeviceIds.IsValid(kind))
        {
            throw new ArgumentException($"'{kind}' is not a valid device kind ({Devices.DeviceIds.Rule})", nameof(kind));
        }

        return services.AddExternalJobType(name, options =>
        {
            configure?.Invoke(options);
            options.DeviceKind = kind;
        });
    }
}
