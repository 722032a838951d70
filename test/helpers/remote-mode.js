process.env.GATEWAY_MODE = 'remote';
