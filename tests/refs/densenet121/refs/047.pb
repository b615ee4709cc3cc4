B5/features/denseblock3/denselayer7/conv2/Conv_output_0J 
¼?øF•?;"?Í`©>k»K?ñxÐ?+N>Wtñ<