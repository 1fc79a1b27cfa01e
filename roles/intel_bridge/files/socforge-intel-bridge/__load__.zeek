@load ./main
@load ./config
