using System.Net;
using System.Net.Sockets;

namespace InferenceServer.TestSupport;

/// <summary>Loopback ports for the servers tests start (the REST, gRPC and Prometheus listeners).</summary>
public static class Ports
{
    /// <summary>A port the OS just reported free on 127.0.0.1.</summary>
    public static int FreeLoopback()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
