namespace OrleansJobs.Hosting;

/// <summary>
/// Grain references by string key for the hot paths (a submit, a job's resource requests, a worker's report).
/// Orleans' <c>GetGrain&lt;T&gt;(string)</c> works out the grain interface type from the interface's
/// attributes by reflection on every call (about 5 % of the API host's and 4 % of a silo's CPU under
/// submit load, docs/benchmarks.md); this resolves the interface and grain type once per factory and then
/// builds the grain id directly, which is what that call ends with. The reference is the same one.
/// </summary>
public static class GrainReferences
{
    /// <summary>The grain of interface <typeparamref name="T"/> with key <paramref name="key"/>.</summary>
    public static T Reference<T>(this IGrainFactory grains, string key) where T : IGrainWithStringKey
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        var types = Types<T>.Known;
        if (types is null || !ReferenceEquals(types.Factory, grains))
        {
            // First use with this factory (a process normally has one): let Orleans resolve the types once.
            var resolved = (GrainReference)(object)grains.GetGrain<T>(key);
            Types<T>.Known = new ResolvedTypes(grains, resolved.GrainId.Type, resolved.InterfaceType);
            return (T)(object)resolved;
        }

        return (T)grains.GetGrain(GrainId.Create(types.Grain, key), types.Interface);
    }

    private sealed record ResolvedTypes(IGrainFactory Factory, GrainType Grain, GrainInterfaceType Interface);

    private static class Types<T>
    {
        public static volatile ResolvedTypes? Known;
    }
}
