using OrleansJobs.Silo.Hosting;

if (args is ["migrate", .. var rest])
{
    return await SchemaCommand.RunAsync(rest);
}

var builder = Host.CreateApplicationBuilder(args);
builder.AddOrleansJobsSilo();
await builder.Build().RunAsync();
return 0;
