using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansJobs.Safeguards;

/// <summary>Runs the retention policy every <see cref="RetentionOptions.Interval"/>, once per interval in the cluster.</summary>
public sealed class RetentionSchedule(
    IClusterMembershipService membership, IGrainFactory grains, ILocalSiloDetails localSilo, IOptions<RetentionOptions> options, ILogger<RetentionSchedule> logger)
    : LeaderSchedule(membership, localSilo, logger)
{
    protected override string Name => "retention run";

    protected override TimeSpan Interval => options.Value.Interval;

    protected override Task RunOnceAsync(string reason, CancellationToken cancellationToken) =>
        grains.GetGrain<IRetentionGrain>(0).RunAsync(new PurgeRequest(reason, "system", DryRun: false));
}

/// <summary>Runs the state validator when the silo starts and every <see cref="ValidatorOptions.ValidationInterval"/>, once per interval in the cluster.</summary>
public sealed class ValidatorSchedule(
    IClusterMembershipService membership, IGrainFactory grains, ILocalSiloDetails localSilo, IOptions<ValidatorOptions> options, ILogger<ValidatorSchedule> logger)
    : LeaderSchedule(membership, localSilo, logger)
{
    protected override string Name => "state validation";

    protected override TimeSpan Interval => options.Value.ValidationInterval;

    protected override bool RunAtStart => options.Value.ValidateAtStart;

    protected override Task RunOnceAsync(string reason, CancellationToken cancellationToken) =>
        grains.GetGrain<IStateValidatorGrain>(0).RunAsync(new ValidationRequest(reason, "system", DryRun: false));
}
