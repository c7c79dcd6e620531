//! RocketMQ 4.x remoting protocol: frames, commands, codes, headers, bodies.
