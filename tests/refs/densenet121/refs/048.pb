B5/features/denseblock3/denselayer8/conv1/Conv_output_0J€ó¿ç7?ÝÃ¤¾;ÀŸ¾
Ö?vd@þ«Ý>}	x?Äôõ½ µ¢¾žå¹¾ç(›½`î?ïF¿A’€>1Ë>ŽŸ$?G°D¿øK0?@É¦½IZA>ù¤ø?/Hn>€Ù>d‡?¿V—Ë¿‹¹9¿JeÆ?´Zt?àk]>«ÓÑ?_	?